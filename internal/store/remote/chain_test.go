package remote

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/store"
)

// TestAmbiguousRetries checks registrations and appends whose first try
// was carried out by the server but answered with a 5xx or not at all: the
// retry finds the account or the entry there and counts it as done, but
// only if it is this one.
func TestAmbiguousRetries(t *testing.T) {
	ctx := context.Background()
	ts := newTestServer(t, nil)
	for _, status := range []int{http.StatusInternalServerError, 0} {
		acct, dev := newAccountID(t), newDevice(t)
		s := ts.open(t, ts.URL, acct, dev)
		g, _ := genesis(t, acct, dev)
		ts.faults.set(fault{match: "POST /v1/accounts", n: 1, status: status, swallow: true})
		if err := s.RegisterAccount(ctx, acct, g); err != nil {
			t.Fatalf("registration answered %d: %v", status, err)
		}
		if spoiled, _, _ := ts.faults.counts(0); spoiled != 1 {
			t.Fatalf("%d requests spoiled", spoiled)
		}
		c, err := devices.Verify(acct, [][]byte{g})
		if err != nil {
			t.Fatal(err)
		}
		o := &owner{Store: s, chain: c}
		ts.faults.set(fault{match: "POST /v1/chain", n: 1, status: status, swallow: true})
		o.add(t, s, o.addDevice(t, newDevice(t)))
		if page, err := s.ChainEntries(ctx, 0); err != nil || len(page) != 2 {
			t.Errorf("chain after a retried append: %d entries, %v", len(page), err)
		}
	}
	// Someone else's genesis or entry in the place is a refusal.
	o := ts.newOwner(t)
	other, _ := genesis(t, o.opts.Account, o.opts.Device)
	ts.faults.set(fault{match: "POST /v1/accounts", n: 1, status: http.StatusBadGateway})
	if err := o.RegisterAccount(ctx, o.opts.Account, other); !errors.Is(err, store.ErrExists) {
		t.Errorf("registration of another genesis: %v", err)
	}
	mine, theirs := o.addDevice(t, newDevice(t)), o.addDevice(t, newDevice(t))
	o.add(t, o.Store, theirs)
	ts.faults.set(fault{match: "POST /v1/chain", n: 1, status: http.StatusBadGateway})
	if err := o.AppendChain(ctx, 1, mine); !errors.Is(err, store.ErrConflict) {
		t.Errorf("append where another entry is: %v", err)
	}
	ts.faults.set(fault{})
}

// TestSigner checks a Store that logs in as the recovery principal: it
// reads the chain and the keys, appends entries, and nothing else.
func TestSigner(t *testing.T) {
	ctx := context.Background()
	ts := newTestServer(t, nil)
	o := ts.newOwner(t)
	key := o.recovery.SigningKey()
	for _, bad := range []Options{
		{Account: o.opts.Account},
		{Account: o.opts.Account, Device: o.opts.Device, Signer: key},
		{Account: o.opts.Account, Signer: key[:10]},
	} {
		if _, err := Open(ts.URL, bad); err == nil {
			t.Errorf("opened with %d-byte signer, device %v", len(bad.Signer), bad.Device != nil)
		}
	}
	data := []byte("wrapped root key")
	if err := o.Put(ctx, store.Keys, "k", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ts.URL, Options{Account: o.opts.Account, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	r.now, r.policy = ts.clock.now, fastPolicy
	defer r.Close()
	if b, err := store.ReadAll(ctx, r, store.Keys, "k", 100); err != nil || !bytes.Equal(b, data) {
		t.Errorf("recovery reads keys: %q, %v", b, err)
	}
	var se *Error
	if _, err := r.Stat(ctx, store.Packs, strings.Repeat("0", 64)); !errors.As(err, &se) || se.Status != http.StatusForbidden {
		t.Errorf("recovery stats a pack: %v", err)
	}
	dev := newDevice(t)
	entry, err := o.chain.AddDevice(devices.ByRecovery(o.recovery), dev.Public(), func(m []byte) []byte { return ed25519.Sign(dev.Sign, m) }, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	o.add(t, r, entry)
	n := ts.open(t, ts.URL, o.opts.Account, dev)
	if _, err := n.ListDevices(ctx); err != nil {
		t.Errorf("the device the recovery key added: %v", err)
	}
	if page, err := r.AccountChain(ctx, ts.account(t).opts.Account, 0); err != nil || len(page) != 1 {
		t.Errorf("another account's chain: %d entries, %v", len(page), err)
	}
	if _, err := r.AccountChain(ctx, newAccountID(t), 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown account's chain: %v", err)
	}
}

package account_test

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/websession"
)

// browserRun is the browser's side of one approval through relay.
type browserRun struct {
	b       *websession.Browser
	compare string
	grant   *websession.Grant
	err     error
}

// runBrowser plays the browser: its offer (retrying until the device has
// opened the mailbox), acceptance, countersignature and grant.
func runBrowser(relay account.Relay, b *websession.Browser, wait time.Duration) *browserRun {
	run := &browserRun{b: b}
	offer, err := b.Offer()
	deadline := time.Now().Add(wait)
	for err == nil {
		err = relay.PutPairing(ctx, b.MailboxID(), 1, offer)
		if !errors.Is(err, store.ErrNotFound) || time.Now().After(deadline) {
			break
		}
		err = nil // the device has not opened the mailbox yet
		time.Sleep(10 * time.Millisecond)
	}
	get := func(slot int) []byte {
		if err != nil {
			return nil
		}
		var body []byte
		var ok bool
		body, ok, err = relay.GetPairing(ctx, b.MailboxID(), slot, time.Until(deadline))
		if err == nil && !ok {
			err = account.ErrPairingTimeout
		}
		return body
	}
	req := get(2)
	var acc *websession.Accepted
	if err == nil {
		acc, err = b.Accept(req)
	}
	if err == nil {
		run.compare = acc.Compare
		var cs []byte
		if cs, err = b.Countersign(); err == nil {
			err = relay.PutPairing(ctx, b.MailboxID(), 3, cs)
		}
	}
	if g := get(4); err == nil {
		run.grant, err = b.OpenGrant(g)
	}
	run.err = err
	return run
}

// TestApprove runs the approval between an Approver and a browser through
// the in-memory mailbox: confirmed, the session is in the chain and the
// browser holds exactly the repository's read keys; unconfirmed or with
// web access off, nothing is appended.
func TestApprove(t *testing.T) {
	for _, tc := range []struct {
		name     string
		webOn    bool
		confirm  error
		wantErr  error
		appended bool
	}{
		{name: "confirmed", webOn: true, appended: true},
		{name: "not confirmed", webOn: true, confirm: account.ErrNotConfirmed, wantErr: account.ErrNotConfirmed},
		{name: "web access off", wantErr: account.ErrWebOff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			cs := store.ChainOf(f.st)
			c := f.c
			var err error
			if tc.webOn {
				if c, err = account.SetWebAccess(ctx, cs, c, f.dev, true); err != nil {
					t.Fatal(err)
				}
			}
			relay := newRelay(0)
			b, err := websession.NewBrowser(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			// Generous for the device (a loaded machine, -race); the
			// browser of a failing approval gives up on its grant sooner.
			wait, browserWait := 30*time.Second, 30*time.Second
			if tc.wantErr != nil {
				browserWait = 3 * time.Second
			}
			var shown account.WebApproval
			a := &account.Approver{Relay: relay, Store: cs, Chain: c, Repo: f.r, Me: f.dev, Length: time.Hour, Deadline: time.Now().Add(wait),
				Confirm: func(w account.WebApproval) error { shown = w; return tc.confirm }}
			done := make(chan *browserRun)
			go func() { done <- runBrowser(relay, b, browserWait) }()
			n, sess, err := a.Approve(ctx, b.Code())
			run := <-done
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("approve: %v, want %v (browser: %v)", err, tc.wantErr, run.err)
			}
			stored := mustFirstUse(t, f)
			if _, ok := stored.Session(b.SessionID()); ok != tc.appended {
				t.Fatalf("the session is in the stored chain: %v", ok)
			}
			if !tc.appended {
				if run.grant != nil {
					t.Fatal("the browser got a grant")
				}
				return
			}
			if run.err != nil || shown.Compare != run.compare || sess.ID != b.SessionID() || n.Len() != stored.Len() {
				t.Fatalf("browser: %v; device showed %s, browser %s", run.err, shown.Compare, run.compare)
			}
			want, err := f.r.ReadKeys()
			if err != nil {
				t.Fatal(err)
			}
			g := run.grant
			if len(g.DataKeys) != len(want.Data) || g.DataKeys[0] != want.Data[0] || g.IDKey != want.ID || g.ConfKey != want.Conf {
				t.Fatal("the grant does not hold the repository's read keys")
			}
		})
	}
}

// TestRevokeSession: a session is found by an ID prefix, revoked once, and
// turning web access off twice changes nothing the second time.
func TestRevokeSession(t *testing.T) {
	f := newFixture(t)
	cs := store.ChainOf(f.st)
	c, err := account.SetWebAccess(ctx, cs, f.c, f.dev, true)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := account.SetWebAccess(ctx, cs, c, f.dev, true); err != nil || again != c {
		t.Fatalf("turning web access on twice: %v", err)
	}
	relay := newRelay(0)
	b, _ := websession.NewBrowser(rand.Reader)
	a := &account.Approver{Relay: relay, Store: cs, Chain: c, Repo: f.r, Me: f.dev, Length: time.Minute, Deadline: time.Now().Add(30 * time.Second),
		Confirm: func(account.WebApproval) error { return nil }}
	done := make(chan *browserRun)
	go func() { done <- runBrowser(relay, b, 30*time.Second) }()
	c, _, err = a.Approve(ctx, b.Code())
	if run := <-done; err != nil || run.err != nil {
		t.Fatalf("device: %v; browser: %v", err, run.err)
	}
	if _, err := c.ResolveSession("ab"); !errors.Is(err, account.ErrUnknownSession) {
		t.Errorf("a 2-digit prefix: %v", err)
	}
	c, s, err := account.RevokeSession(ctx, cs, c, f.dev, strings.ToUpper(b.SessionID()[:6]))
	if err != nil || s.ID != b.SessionID() {
		t.Fatalf("revoke: %v", err)
	}
	if got, _ := c.Session(s.ID); got.Revoked == 0 {
		t.Fatal("not revoked")
	}
	if _, _, err := account.RevokeSession(ctx, cs, c, f.dev, s.ID); err == nil {
		t.Fatal("revoked twice")
	}
}

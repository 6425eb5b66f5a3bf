package remote

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/store"
)

// TestPairing runs a pairing exchange between a device of an account and a
// joining device that has no credentials.
func TestPairing(t *testing.T) {
	ctx := context.Background()
	ts := newTestServer(t, nil)
	o := ts.newOwner(t)
	joiner, err := OpenAnonymous(ts.URL, Timeouts{})
	if err != nil {
		t.Fatal(err)
	}
	joiner.policy = fastPolicy
	defer joiner.Close()
	id := newAccountID(t) // any 32 hex digits
	for _, ttl := range []time.Duration{0, -time.Second, time.Hour + time.Second} {
		if err := o.CreatePairing(ctx, id, ttl); err == nil {
			t.Errorf("pairing of %v created", ttl)
		}
	}
	if err := o.CreatePairing(ctx, "ABC", time.Minute); err == nil {
		t.Error("pairing with a bad id created")
	}
	if err := joiner.CreatePairing(ctx, id, time.Minute); err == nil {
		t.Error("an anonymous store created a pairing")
	}
	if err := o.CreatePairing(ctx, id, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := o.CreatePairing(ctx, id, time.Minute); !errors.Is(err, store.ErrExists) {
		t.Errorf("the same pairing again: %v", err)
	}
	if err := joiner.PutPairing(ctx, id, 1, []byte("record")); err != nil {
		t.Fatal(err)
	}
	if err := joiner.PutPairing(ctx, id, 2, []byte("x")); err == nil {
		t.Error("an anonymous store wrote slot 2")
	}
	if err := joiner.PutPairing(ctx, id, 5, []byte("x")); err == nil {
		t.Error("slot 5 written")
	}
	if b, ok, err := o.GetPairing(ctx, id, 1, 0); err != nil || !ok || string(b) != "record" {
		t.Errorf("slot 1: %q %v %v", b, ok, err)
	}
	if _, ok, err := joiner.GetPairing(ctx, id, 2, 0); err != nil || ok {
		t.Errorf("empty slot 2: %v %v", ok, err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		if err := o.PutPairing(ctx, id, 2, []byte("chain")); err != nil {
			t.Error(err)
		}
	}()
	if b, ok, err := joiner.GetPairing(ctx, id, 2, 10*time.Second); err != nil || !ok || string(b) != "chain" {
		t.Errorf("waited for slot 2: %q %v %v", b, ok, err)
	}
	// A write whose answer was lost is found done on the retry.
	ts.faults.set(fault{match: "PUT /v1/pairings/", n: 1, status: 0, swallow: true})
	if err := joiner.PutPairing(ctx, id, 3, []byte("countersignature")); err != nil {
		t.Errorf("retried write: %v", err)
	}
	ts.faults.set(fault{})
	if err := joiner.PutPairing(ctx, id, 3, []byte("again")); !errors.Is(err, store.ErrExists) {
		t.Errorf("slot 3 again: %v", err)
	}
	ts.clock.advance(time.Minute)
	if _, _, err := joiner.GetPairing(ctx, id, 1, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired pairing: %v", err)
	}
}

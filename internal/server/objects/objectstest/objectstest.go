// Package objectstest is the conformance suite every objects.Backend must
// pass: each account's objects keep the store contract (storetest), accounts
// are separate, creation refuses an account that holds objects, removal
// removes only its account, and two instances over one storage see each
// other's objects at once, so nothing one keeps in memory is needed by the
// other.
package objectstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"github.com/coffer-backup/coffer/internal/server/objects"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/storetest"
)

// Open returns two backends over one new, empty storage, as two server
// instances would see it.
type Open func(t *testing.T) (objects.Backend, objects.Backend)

// Run runs the suite against backends made by open.
func Run(t *testing.T, open Open) {
	t.Run("Store", func(t *testing.T) {
		a, _ := open(t)
		storetest.Run(t, func(t *testing.T) store.Store { return create(t, a, NewAccount()) })
	})
	tests := []struct {
		name string
		fn   func(*testing.T, objects.Backend, objects.Backend)
	}{
		{"Separate", testSeparate},
		{"CreateTaken", testCreateTaken},
		{"Remove", testRemove},
		{"SharedStorage", testShared},
		{"BadAccounts", testBadAccounts},
		{"Ping", testPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := open(t)
			tc.fn(t, a, b)
		})
	}
}

// NewAccount returns a new random account ID.
func NewAccount() string {
	var id [16]byte
	_, _ = rand.Read(id[:]) // never fails
	return hex.EncodeToString(id[:])
}

// create makes an account's store and fails the test on error.
func create(t *testing.T, b objects.Backend, account string) store.Store {
	t.Helper()
	st, err := b.Create(context.Background(), account)
	if err != nil {
		t.Fatalf("Create %s: %v", account, err)
	}
	return st
}

// account returns an account's store and fails the test on error.
func account(t *testing.T, b objects.Backend, id string) store.Store {
	t.Helper()
	st, err := b.Account(id)
	if err != nil {
		t.Fatalf("Account %s: %v", id, err)
	}
	return st
}

// put stores data as kind/name and fails the test on error.
func put(t *testing.T, st store.Store, kind store.Kind, name string, data []byte) {
	t.Helper()
	if err := st.Put(context.Background(), kind, name, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put %s/%s: %v", kind, name, err)
	}
}

// names lists the names of a kind.
func names(t *testing.T, st store.Store, kind store.Kind) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	err := st.List(context.Background(), kind, func(o store.ObjectInfo) error {
		got[o.Name] = o.Size
		return nil
	})
	if err != nil {
		t.Fatalf("List %s: %v", kind, err)
	}
	return got
}

// read returns a whole object, or fails the test.
func read(t *testing.T, st store.Store, kind store.Kind, name string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), kind, name, 0, -1)
	if err != nil {
		t.Fatalf("Get %s/%s: %v", kind, name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s/%s: %v", kind, name, err)
	}
	return b
}

// testSeparate checks that accounts are separate namespaces.
func testSeparate(t *testing.T, b, _ objects.Backend) {
	x, y := create(t, b, NewAccount()), create(t, b, NewAccount())
	put(t, x, store.Packs, "shared", []byte("x's"))
	put(t, y, store.Packs, "shared", []byte("y's!"))
	put(t, x, store.Index, "only-x", []byte("x"))
	if err := y.Delete(context.Background(), store.Packs, "shared"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, x, store.Packs, "shared"); string(got) != "x's" {
		t.Errorf("x's packs/shared: %q", got)
	}
	if _, err := y.Stat(context.Background(), store.Index, "only-x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("y sees x's index/only-x: %v", err)
	}
	if got := names(t, y, store.Index); len(got) != 0 {
		t.Errorf("y lists %v", got)
	}
}

// testCreateTaken checks that Create refuses an account that holds
// objects, and leaves them as they were.
func testCreateTaken(t *testing.T, b, _ objects.Backend) {
	id := NewAccount()
	put(t, create(t, b, id), store.Config, "config", []byte("c"))
	if _, err := b.Create(context.Background(), id); err == nil {
		t.Error("a second Create of an account holding objects succeeded")
	}
	if got := read(t, account(t, b, id), store.Config, "config"); string(got) != "c" {
		t.Errorf("config after the refused Create: %q", got)
	}
}

// testRemove checks that Remove removes every object of its account and
// no other's, and that the account may then be created again.
func testRemove(t *testing.T, b, _ objects.Backend) {
	ctx := context.Background()
	gone, kept := NewAccount(), NewAccount()
	for _, id := range []string{gone, kept} {
		st := create(t, b, id)
		for _, kind := range store.Kinds {
			put(t, st, kind, "obj-"+string(kind), []byte(kind))
		}
	}
	if err := b.Remove(ctx, gone); err != nil {
		t.Fatal(err)
	}
	st := create(t, b, gone)
	for _, kind := range store.Kinds {
		if got := names(t, st, kind); len(got) != 0 {
			t.Errorf("%s after Remove: %v", kind, got)
		}
		if got := read(t, account(t, b, kept), kind, "obj-"+string(kind)); string(got) != string(kind) {
			t.Errorf("the other account's %s: %q", kind, got)
		}
	}
}

// testShared checks that an instance sees at once what another put and
// deleted, and refuses to create an account the other created.
func testShared(t *testing.T, one, two objects.Backend) {
	ctx := context.Background()
	id := NewAccount()
	st1 := create(t, one, id)
	put(t, st1, store.Packs, "p1", []byte("from one"))
	st2 := account(t, two, id)
	if got := read(t, st2, store.Packs, "p1"); string(got) != "from one" {
		t.Errorf("two reads %q", got)
	}
	if err := st2.Put(ctx, store.Packs, "p1", bytes.NewReader([]byte("x")), 1); !errors.Is(err, store.ErrExists) {
		t.Errorf("two puts over one's object: %v", err)
	}
	if _, err := two.Create(ctx, id); err == nil {
		t.Error("two created the account one created")
	}
	if err := st2.Delete(ctx, store.Packs, "p1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st1.Stat(ctx, store.Packs, "p1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("one still sees the object two deleted: %v", err)
	}
	put(t, st1, store.Packs, "p1", []byte("again"))
	if got := names(t, st2, store.Packs); len(got) != 1 || got["p1"] != 5 {
		t.Errorf("two lists %v", got)
	}
}

// testBadAccounts checks that account IDs that could leave the accounts'
// space are refused by every method.
func testBadAccounts(t *testing.T, b, _ objects.Backend) {
	ctx := context.Background()
	for _, id := range []string{"", "..", "../" + NewAccount()[:29], "ABCDEF0123456789ABCDEF0123456789", NewAccount() + "0", NewAccount()[:31] + "/"} {
		if _, err := b.Create(ctx, id); !errors.Is(err, objects.ErrBadAccount) {
			t.Errorf("Create %q: %v", id, err)
		}
		if _, err := b.Account(id); !errors.Is(err, objects.ErrBadAccount) {
			t.Errorf("Account %q: %v", id, err)
		}
		if err := b.Remove(ctx, id); !errors.Is(err, objects.ErrBadAccount) {
			t.Errorf("Remove %q: %v", id, err)
		}
	}
}

func testPing(t *testing.T, b, _ objects.Backend) {
	if err := b.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/store"
)

// ChainAccount is the account a store.Chain test runs in: a fresh account
// ID, its device chain genesis entry and the genesis device, which signs
// every entry the suite appends.
type ChainAccount struct {
	ID      string // 32 lower-case hex digits
	Genesis []byte
	Device  *keys.Device
}

// RunChain runs the store.Chain conformance suite (docs/devices.md: an
// append-only list with compare-and-swap appends) against chains made by
// open. Each call of open gets a new account and returns its chain, either
// empty or holding exactly the account's genesis entry (a server that
// registers accounts by their genesis); open arranges for its store to be
// closed when t ends. Every entry appended is a valid chain entry, so a
// store that verifies entries (a server) can run the suite too.
func RunChain(t *testing.T, open func(t *testing.T, a ChainAccount) store.Chain) {
	tests := []struct {
		name string
		fn   func(*testing.T, *chainFixture)
	}{
		{"Genesis", testChainGenesis},
		{"Conflicts", testChainConflicts},
		{"Pages", testChainPages},
		{"ConcurrentAppends", testChainConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newChainFixture(t)
			f.c = open(t, ChainAccount{ID: f.account, Genesis: f.entries[0], Device: f.dev})
			got, err := f.c.ChainEntries(context.Background(), 0)
			switch {
			case err != nil:
				t.Fatalf("ChainEntries of a new chain: %v", err)
			case len(got) > 1 || len(got) == 1 && !bytes.Equal(got[0], f.entries[0]):
				t.Fatalf("a new chain holds %d entries, not none or the genesis", len(got))
			}
			f.stored = len(got) == 1
			tc.fn(t, f)
		})
	}
}

// chainFixture is an account's chain as the test builds it.
type chainFixture struct {
	c       store.Chain
	account string
	dev     *keys.Device
	state   *devices.Chain // the verified entries[:state.Len()]
	entries [][]byte       // entries built so far
	stored  bool           // whether c held the genesis from the start
}

func newChainFixture(t *testing.T) *chainFixture {
	t.Helper()
	var id [16]byte
	_, _ = rand.Read(id[:]) // never fails
	dev, err := keys.NewDevice("chain test")
	if err != nil {
		t.Fatal(err)
	}
	rk, err := keys.NewRecoveryKey()
	if err != nil {
		t.Fatal(err)
	}
	f := &chainFixture{account: hex.EncodeToString(id[:]), dev: dev}
	g, err := devices.NewGenesis(f.account, dev, rk, commitment(0), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if f.state, err = devices.Verify(f.account, [][]byte{g}); err != nil {
		t.Fatal(err)
	}
	f.entries = [][]byte{g}
	return f
}

// commitment returns a root-key commitment determined by n. The chain
// records commitments without checking them against keys, so any 32 bytes
// do.
func commitment(n int) [32]byte { return [32]byte{byte(n), byte(n >> 8), 0xc0} }

// next builds a valid entry following the verified state; distinct n give
// distinct entries.
func (f *chainFixture) next(t *testing.T, n int) []byte {
	t.Helper()
	b, err := f.state.RotateKey(devices.ByDevice(f.dev), commitment(n), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// push appends the next entry and records it.
func (f *chainFixture) push(t *testing.T, n int) {
	t.Helper()
	b := f.next(t, n)
	if err := f.c.AppendChain(context.Background(), f.state.Len(), b); err != nil {
		t.Fatalf("AppendChain %d: %v", f.state.Len(), err)
	}
	f.accept(t, b)
}

// accept extends the verified state by b.
func (f *chainFixture) accept(t *testing.T, b []byte) {
	t.Helper()
	s, err := f.state.Extend([][]byte{b})
	if err != nil {
		t.Fatal(err)
	}
	f.state = s
	f.entries = append(f.entries, b)
}

// start appends the genesis unless the chain held it from the start.
func (f *chainFixture) start(t *testing.T) {
	t.Helper()
	if f.stored {
		return
	}
	if err := f.c.AppendChain(context.Background(), 0, f.entries[0]); err != nil {
		t.Fatalf("AppendChain of the genesis: %v", err)
	}
}

// wantConflict fails unless err wraps store.ErrConflict.
func wantConflict(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("%s: %v, want an error wrapping store.ErrConflict", what, err)
	}
}

// checkEntries checks that ChainEntries(from) is a non-empty prefix of
// the entries from there on, or empty past the end.
func (f *chainFixture) checkEntries(t *testing.T, from int) {
	t.Helper()
	got, err := f.c.ChainEntries(context.Background(), uint64(from))
	if err != nil {
		t.Fatalf("ChainEntries(%d): %v", from, err)
	}
	rest := f.entries[min(from, len(f.entries)):]
	if len(got) > len(rest) || len(got) == 0 && len(rest) > 0 {
		t.Fatalf("ChainEntries(%d): %d entries of the %d there are", from, len(got), len(rest))
	}
	for i := range got {
		if !bytes.Equal(got[i], rest[i]) {
			t.Fatalf("ChainEntries(%d): entry %d differs", from, from+i)
		}
	}
}

func testChainGenesis(t *testing.T, f *chainFixture) {
	ctx := context.Background()
	if !f.stored {
		wantConflict(t, "entry 1 of an empty chain", f.c.AppendChain(ctx, 1, f.next(t, 1)))
	}
	f.start(t)
	wantConflict(t, "the genesis again", f.c.AppendChain(ctx, 0, f.entries[0]))
	wantConflict(t, "entry 2 of a chain of 1", f.c.AppendChain(ctx, 2, f.next(t, 1)))
	for from := range 3 {
		f.checkEntries(t, from)
	}
	f.push(t, 1)
	for from := range 4 {
		f.checkEntries(t, from)
	}
}

func testChainConflicts(t *testing.T, f *chainFixture) {
	ctx := context.Background()
	f.start(t)
	f.push(t, 1)
	mine, theirs := f.next(t, 2), f.next(t, 3)
	if err := f.c.AppendChain(ctx, 2, theirs); err != nil {
		t.Fatalf("the first append at 2: %v", err)
	}
	wantConflict(t, "the second append at 2", f.c.AppendChain(ctx, 2, mine))
	f.accept(t, theirs)
	wantConflict(t, "an append at 1", f.c.AppendChain(ctx, 1, mine))
	wantConflict(t, "an append at 4", f.c.AppendChain(ctx, 4, f.next(t, 4)))
	f.checkEntries(t, 0)
	f.checkEntries(t, 2)
	f.push(t, 5)
	f.checkEntries(t, 3)
}

// testChainPages reads a chain longer than a page (256 entries for every
// store so far) from the start, from the middle and past the end.
func testChainPages(t *testing.T, f *chainFixture) {
	const n = 300
	f.start(t)
	for i := 1; i < n; i++ {
		f.push(t, i)
	}
	all, err := store.ReadChain(context.Background(), f.c, 0)
	if err != nil || len(all) != n {
		t.Fatalf("ReadChain: %d entries, %v", len(all), err)
	}
	if _, err := devices.Verify(f.account, all); err != nil {
		t.Errorf("the entries read do not verify: %v", err)
	}
	for _, from := range []int{0, 1, 150, 255, 256, 257, n - 1, n, n + 1, n + 1000} {
		f.checkEntries(t, from)
	}
	mid, err := store.ReadChain(context.Background(), f.c, 200)
	if err != nil || len(mid) != n-200 || !bytes.Equal(mid[0], f.entries[200]) {
		t.Errorf("ReadChain from 200: %d entries, %v", len(mid), err)
	}
}

// testChainConcurrent races appends at one position: exactly one wins.
func testChainConcurrent(t *testing.T, f *chainFixture) {
	f.start(t)
	const racers = 8
	entries := make([][]byte, racers)
	for i := range entries {
		entries[i] = f.next(t, 10+i)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for _, e := range entries {
		wg.Go(func() {
			err := f.c.AppendChain(context.Background(), 1, e)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("a losing append: %v", err)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d appends at 1 won, want 1", n)
	}
	got, err := f.c.ChainEntries(context.Background(), 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("entry 1: %d entries, %v", len(got), err)
	}
	if _, err := f.state.Extend(got); err != nil {
		t.Error(fmt.Errorf("the winning entry: %w", err))
	}
}

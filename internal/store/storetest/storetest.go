// Package storetest is the conformance suite every store.Store backend must
// pass (docs/format.md §4.2): round trips, ranges, listing, deletion,
// write-once semantics, rejection of bad input and concurrent use. A backend
// that passes can be trusted to keep the store contract, not its bytes: the
// suite checks behaviour, while callers still authenticate every object.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/store"
)

// Run runs the conformance suite against stores made by open. Each call of
// open returns a fresh, empty store; Run closes every store it opens.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"EveryKind", testEveryKind},
		{"Ranges", testRanges},
		{"Missing", testMissing},
		{"List", testList},
		{"ListStops", testListStops},
		{"Namespaces", testNamespaces},
		{"Delete", testDelete},
		{"WriteOnce", testWriteOnce},
		{"BadReaders", testBadReaders},
		{"Cancelled", testCancelled},
		{"CancelledMidway", testCancelledMidway},
		{"InvalidNames", testInvalidNames},
		{"LongestName", testLongestName},
		{"ConcurrentSameName", testConcurrentSameName},
		{"ConcurrentPutsAndLists", testConcurrentPutsAndLists},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			defer func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			tc.fn(t, s)
		})
	}
}

// stream returns n pseudo-random bytes determined by seed, generated as they
// are read so that big objects never sit in one buffer.
func stream(seed uint64, n int64) io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return io.LimitReader(rand.NewChaCha8(key), n)
}

// content returns stream(seed, n) as a byte slice.
func content(t *testing.T, seed uint64, n int64) []byte {
	t.Helper()
	b, err := io.ReadAll(stream(seed, n))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// digest returns the SHA-256 of r's bytes and their count.
func digest(t *testing.T, r io.Reader) ([]byte, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	return h.Sum(nil), n
}

// put stores data as kind/name and fails the test on error.
func put(t *testing.T, s store.Store, kind store.Kind, name string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), kind, name, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put %s/%s: %v", kind, name, err)
	}
}

// get reads a range of kind/name; it fails the test on error.
func get(t *testing.T, s store.Store, kind store.Kind, name string, offset, length int64) []byte {
	t.Helper()
	b, err := tryGet(context.Background(), s, kind, name, offset, length)
	if err != nil {
		t.Fatalf("Get %s/%s [%d,%d]: %v", kind, name, offset, length, err)
	}
	return b
}

// tryGet reads a range of kind/name, returning the error of Get or of reading.
func tryGet(ctx context.Context, s store.Store, kind store.Kind, name string, offset, length int64) ([]byte, error) {
	rc, err := s.Get(ctx, kind, name, offset, length)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	return b, errors.Join(err, rc.Close())
}

// list returns the objects of a kind by name.
func list(t *testing.T, s store.Store, kind store.Kind) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	err := s.List(context.Background(), kind, func(oi store.ObjectInfo) error {
		if _, dup := got[oi.Name]; dup {
			t.Errorf("List %s: %s listed twice", kind, oi.Name)
		}
		got[oi.Name] = oi.Size
		return nil
	})
	if err != nil {
		t.Fatalf("List %s: %v", kind, err)
	}
	return got
}

// wantList fails the test unless kind holds exactly want.
func wantList(t *testing.T, s store.Store, kind store.Kind, want map[string]int64) {
	t.Helper()
	got := list(t, s, kind)
	for name, size := range want {
		if gs, ok := got[name]; !ok || gs != size {
			t.Errorf("List %s: %s has size %d (listed: %v), want %d", kind, name, gs, ok, size)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("List %s: unexpected %s", kind, name)
		}
	}
}

// wantAbsent fails the test unless kind/name is missing from Stat, Get and
// List.
func wantAbsent(t *testing.T, s store.Store, kind store.Kind, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Stat(ctx, kind, name); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stat %s/%s: got %v, want ErrNotFound", kind, name, err)
	}
	if _, err := tryGet(ctx, s, kind, name, 0, -1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get %s/%s: got %v, want ErrNotFound", kind, name, err)
	}
	if _, ok := list(t, s, kind)[name]; ok {
		t.Errorf("List %s: lists %s", kind, name)
	}
}

// wantNamed fails the test unless err is non-nil and names the object.
func wantNamed(t *testing.T, err error, what, name string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
	} else if !strings.Contains(err.Error(), name) {
		t.Errorf("%s: error %q does not name %s", what, err, name)
	}
}

// hexName returns the lower-case hexadecimal SHA-256 of b, the way packs,
// index objects and snapshots are named.
func hexName(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coffer-backup/coffer/internal/store"
)

// errBroken is the error failingReader returns.
var errBroken = errors.New("storetest: reader broke")

// failingReader returns r's bytes, then errBroken instead of io.EOF.
func failingReader(r io.Reader) io.Reader {
	return io.MultiReader(r, errorReader{})
}

type errorReader struct{}

func (errorReader) Read([]byte) (int, error) { return 0, errBroken }

// testBadReaders checks that a Put whose reader fails or delivers the wrong
// number of bytes fails and leaves nothing behind.
func testBadReaders(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		r    io.Reader
		size int64
		is   error // the error Put must wrap, if any in particular
	}{
		{"fails midway", failingReader(stream(1, 1000)), 4000, errBroken},
		{"fails after all bytes", failingReader(stream(2, 1000)), 1000, errBroken},
		{"fails at once", errorReader{}, 10, errBroken},
		{"one byte short", stream(3, 999), 1000, nil},
		{"one byte long", stream(4, 1001), 1000, nil},
		{"long by one past MiB", stream(5, 1<<20+1), 1 << 20, nil},
		{"empty but size 1", stream(6, 0), 1, nil},
		{"one byte but size 0", stream(7, 1), 0, nil},
		{"negative size", stream(8, 0), -1, nil},
	}
	for i, tc := range tests {
		name := fmt.Sprintf("bad-%d", i)
		err := s.Put(context.Background(), store.Packs, name, tc.r, tc.size)
		if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("%s: Put returned %v", tc.name, err)
		}
		wantAbsent(t, s, store.Packs, name)
		put(t, s, store.Packs, name, []byte(tc.name)) // nothing left blocks the name
	}
}

// testCancelled checks that every method fails with a cancelled context and
// changes nothing.
func testCancelled(t *testing.T, s store.Store) {
	put(t, s, store.Index, "kept", []byte("kept"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	checks := map[string]error{
		"Put":    s.Put(ctx, store.Index, "new", strings.NewReader("new"), 3),
		"Delete": s.Delete(ctx, store.Index, "kept"),
		"List":   s.List(ctx, store.Index, func(store.ObjectInfo) error { return nil }),
	}
	_, checks["Stat"] = s.Stat(ctx, store.Index, "kept")
	_, checks["Get"] = tryGet(ctx, s, store.Index, "kept", 0, -1)
	for what, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: got %v, want context.Canceled", what, err)
		}
	}
	wantAbsent(t, s, store.Index, "new")
	wantList(t, s, store.Index, map[string]int64{"kept": 4})
}

// cancellingReader cancels its context once it has delivered after bytes.
type cancellingReader struct {
	r      io.Reader
	after  int64
	cancel context.CancelFunc
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.after -= int64(n); c.after <= 0 {
		c.cancel()
	}
	return n, err
}

// testCancelledMidway checks that cancelling a Put while it reads leaves
// nothing behind, and that cancelling a Get stops its reader.
func testCancelledMidway(t *testing.T, s store.Store) {
	const size = 4 << 20
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &cancellingReader{r: stream(1, size), after: 256 << 10, cancel: cancel}
	if err := s.Put(ctx, store.Packs, "cancelled", r, size); !errors.Is(err, context.Canceled) {
		t.Errorf("Put cancelled midway: got %v, want context.Canceled", err)
	}
	wantAbsent(t, s, store.Packs, "cancelled")

	if err := s.Put(context.Background(), store.Packs, "big", stream(2, size), size); err != nil {
		t.Fatalf("Put: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	rc, err := s.Get(ctx, store.Packs, "big", 0, -1)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
		t.Fatalf("reading: %v", err)
	}
	cancel()
	if n, err := io.Copy(io.Discard, rc); err == nil {
		t.Errorf("reading on after cancel: got %d more bytes and no error", n)
	}
}

// badNames are names no backend may accept; badKinds likewise.
var (
	badNames = []string{
		"", ".", "..", "../x", "../../etc/passwd", "a/b", "/abs", `a\b`, "ABC", "aBc",
		strings.Repeat("a", 129), ".x", "-x", "_x", "x y", "x\x00", "x\n", "ü", "packs/ab",
	}
	badKinds = []store.Kind{"", "bogus", "Packs", "../packs", "tmp", "packs/ab", "index/", "."}
)

// untouchable fails the test if anything reads it.
type untouchable struct{ reads atomic.Int64 }

func (u *untouchable) Read([]byte) (int, error) {
	u.reads.Add(1)
	return 0, errBroken
}

// testInvalidNames checks that every method rejects invalid kinds and names
// without reading the Put reader or touching any object.
func testInvalidNames(t *testing.T, s store.Store) {
	for _, kind := range []store.Kind{store.Index, store.Packs} {
		put(t, s, kind, "x", []byte("safe"))
	}
	type call struct {
		kind store.Kind
		name string
	}
	var calls []call
	for _, name := range badNames {
		calls = append(calls, call{store.Index, name}, call{store.Packs, name})
	}
	for _, kind := range badKinds {
		calls = append(calls, call{kind, "x"})
	}
	for _, c := range calls {
		checkRejected(t, s, c.kind, c.name)
	}
	for _, kind := range store.Kinds {
		want := map[string]int64(nil)
		if kind == store.Index || kind == store.Packs {
			want = map[string]int64{"x": 4}
			if got := get(t, s, kind, "x", 0, -1); string(got) != "safe" {
				t.Errorf("%s/x: got %q", kind, got)
			}
		}
		wantList(t, s, kind, want)
	}
}

// checkRejected fails the test unless every method rejects kind/name as
// invalid rather than as missing or existing.
func checkRejected(t *testing.T, s store.Store, kind store.Kind, name string) {
	t.Helper()
	ctx := context.Background()
	what := fmt.Sprintf("%q/%q", kind, name)
	u := &untouchable{}
	if err := s.Put(ctx, kind, name, u, 4); err == nil || errors.Is(err, store.ErrExists) || u.reads.Load() != 0 {
		t.Errorf("Put %s: got %v after %d reads", what, err, u.reads.Load())
	}
	checks := map[string]error{"Delete": s.Delete(ctx, kind, name)}
	_, checks["Stat"] = s.Stat(ctx, kind, name)
	_, checks["Get"] = tryGet(ctx, s, kind, name, 0, -1)
	for op, err := range checks {
		if err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s %s: got %v, want a rejection", op, what, err)
		}
	}
	if !kind.Valid() {
		if err := s.List(ctx, kind, func(store.ObjectInfo) error { return nil }); err == nil {
			t.Errorf("List %q: accepted", kind)
		}
	}
}

// testLongestName checks that a name of the maximum length works everywhere.
func testLongestName(t *testing.T, s store.Store) {
	name := strings.Repeat("0123456789abcdef", 8)
	for _, kind := range []store.Kind{store.Packs, store.Sessions} {
		put(t, s, kind, name, []byte("long"))
		if got := get(t, s, kind, name, 1, 2); !bytes.Equal(got, []byte("on")) {
			t.Errorf("%s: got %q", kind, got)
		}
		wantList(t, s, kind, map[string]int64{name: 4})
		if err := s.Delete(context.Background(), kind, name); err != nil {
			t.Errorf("Delete %s: %v", kind, err)
		}
	}
}

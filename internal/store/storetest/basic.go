package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/coffer-backup/coffer/internal/store"
)

// testRoundTrip streams objects of several sizes in and out and checks their
// bytes, Stat and List.
func testRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	sizes := []int64{0, 1, 1000, 5<<20 + 3}
	want := map[string]int64{}
	for i, size := range sizes {
		sum, _ := digest(t, stream(uint64(i), size))
		name := fmt.Sprintf("%x", sum)
		want[name] = size
		if err := s.Put(ctx, store.Packs, name, stream(uint64(i), size), size); err != nil {
			t.Fatalf("Put of %d bytes: %v", size, err)
		}
		if oi, err := s.Stat(ctx, store.Packs, name); err != nil || oi != (store.ObjectInfo{Name: name, Size: size}) {
			t.Errorf("Stat of %d bytes: got %+v, %v", size, oi, err)
		}
		rc, err := s.Get(ctx, store.Packs, name, 0, -1)
		if err != nil {
			t.Fatalf("Get of %d bytes: %v", size, err)
		}
		got, n := digest(t, rc)
		if err := rc.Close(); err != nil {
			t.Errorf("closing Get of %d bytes: %v", size, err)
		}
		if n != size || !bytes.Equal(got, sum) {
			t.Errorf("Get of %d bytes: read %d bytes with SHA-256 %x", size, n, got)
		}
	}
	wantList(t, s, store.Packs, want)
}

// testEveryKind stores an object of every kind and reads it back.
func testEveryKind(t *testing.T, s store.Store) {
	for i, kind := range store.Kinds {
		data := content(t, uint64(100+i), int64(10+i))
		put(t, s, kind, "k1", data)
		if got := get(t, s, kind, "k1", 0, -1); !bytes.Equal(got, data) {
			t.Errorf("%s/k1: got %x, want %x", kind, got, data)
		}
	}
}

// testRanges reads ranges of an object: valid ones return exactly their
// bytes; ranges past the end fail with an error naming the object.
func testRanges(t *testing.T, s store.Store) {
	const name = "ranged"
	data := content(t, 7, 1000)
	put(t, s, store.Index, name, data)
	tests := []struct {
		offset, length int64
		ok             bool
	}{
		{0, 10, true}, {0, 1000, true}, {0, -1, true}, {500, 100, true},
		{900, -1, true}, {999, 1, true}, {1000, -1, true}, {1000, 0, true},
		{0, 0, true}, {500, 0, true},
		{990, 11, false}, {0, 1001, false}, {1001, 0, false}, {1001, -1, false},
		{-1, 10, false}, {5000, 1, false},
	}
	for _, tc := range tests {
		what := fmt.Sprintf("Get [%d,%d]", tc.offset, tc.length)
		got, err := tryGet(context.Background(), s, store.Index, name, tc.offset, tc.length)
		if !tc.ok {
			wantNamed(t, err, what, name)
			continue
		}
		end := int64(len(data))
		if tc.length >= 0 {
			end = tc.offset + tc.length
		}
		if err != nil || !bytes.Equal(got, data[tc.offset:end]) {
			t.Errorf("%s: got %d bytes, %v; want %d bytes", what, len(got), err, end-tc.offset)
		}
	}
}

// testMissing checks that Stat, Get, ranged Get and Delete of a missing
// object fail with ErrNotFound and name it.
func testMissing(t *testing.T, s store.Store) {
	ctx := context.Background()
	const name = "absent"
	put(t, s, store.Index, "present", []byte("x"))
	_, err := s.Stat(ctx, store.Index, name)
	checkNotFound(t, "Stat", err, name)
	_, err = tryGet(ctx, s, store.Index, name, 0, -1)
	checkNotFound(t, "Get", err, name)
	_, err = tryGet(ctx, s, store.Index, name, 1, 1)
	checkNotFound(t, "ranged Get", err, name)
	checkNotFound(t, "Delete", s.Delete(ctx, store.Index, name), name)
	_, err = s.Stat(ctx, store.Snapshots, "present")
	checkNotFound(t, "Stat in another kind", err, "present")
}

// checkNotFound fails the test unless err wraps ErrNotFound and names name.
func checkNotFound(t *testing.T, what string, err error, name string) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: got %v, want ErrNotFound", what, err)
	}
	wantNamed(t, err, what, name)
}

// testList checks that List reports every object with its size, and nothing
// for an empty kind.
func testList(t *testing.T, s store.Store) {
	wantList(t, s, store.Snapshots, nil)
	want := map[string]int64{}
	for i := range 40 {
		data := content(t, uint64(i), int64(i*37))
		name := hexName(data)
		if i%4 == 0 {
			name = fmt.Sprintf("obj-%d.v1", i) // names need not be hashes
		}
		put(t, s, store.Snapshots, name, data)
		want[name] = int64(len(data))
	}
	wantList(t, s, store.Snapshots, want)
	for _, kind := range store.Kinds {
		if kind != store.Snapshots {
			wantList(t, s, kind, nil)
		}
	}
	if err := s.List(context.Background(), "bogus", func(store.ObjectInfo) error { return nil }); err == nil {
		t.Error("List of an unknown kind succeeded")
	}
}

// testListStops checks that List stops at and returns fn's error.
func testListStops(t *testing.T, s store.Store) {
	for _, name := range []string{"a", "b", "c"} {
		put(t, s, store.Packs, name, []byte(name))
	}
	stop := errors.New("stop")
	calls := 0
	err := s.List(context.Background(), store.Packs, func(store.ObjectInfo) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List: got %v after %d calls, want fn's error after 1", err, calls)
	}
}

// testNamespaces checks that kinds are separate namespaces.
func testNamespaces(t *testing.T, s store.Store) {
	ctx := context.Background()
	put(t, s, store.Index, "shared", []byte("index"))
	put(t, s, store.Snapshots, "shared", []byte("snapshot!"))
	if err := s.Delete(ctx, store.Index, "shared"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantAbsent(t, s, store.Index, "shared")
	if got := get(t, s, store.Snapshots, "shared", 0, -1); string(got) != "snapshot!" {
		t.Errorf("snapshots/shared: got %q", got)
	}
	wantList(t, s, store.Snapshots, map[string]int64{"shared": 9})
}

// testDelete checks that a deleted object is gone, that deleting it again
// fails with ErrNotFound, and that its name can then be used again.
func testDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	put(t, s, store.Packs, "doomed", []byte("one"))
	put(t, s, store.Packs, "kept", []byte("two"))
	if err := s.Delete(ctx, store.Packs, "doomed"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantAbsent(t, s, store.Packs, "doomed")
	checkNotFound(t, "second Delete", s.Delete(ctx, store.Packs, "doomed"), "doomed")
	wantList(t, s, store.Packs, map[string]int64{"kept": 3})
	put(t, s, store.Packs, "doomed", []byte("reborn"))
	if got := get(t, s, store.Packs, "doomed", 0, -1); string(got) != "reborn" {
		t.Errorf("re-created object: got %q", got)
	}
}

// testWriteOnce checks that Put never replaces an object.
func testWriteOnce(t *testing.T, s store.Store) {
	ctx := context.Background()
	orig := []byte("original")
	put(t, s, store.Config, "config", orig)
	for _, other := range [][]byte{[]byte("replaced"), []byte("a longer replacement"), nil} {
		err := s.Put(ctx, store.Config, "config", bytes.NewReader(other), int64(len(other)))
		if !errors.Is(err, store.ErrExists) {
			t.Errorf("Put over an object: got %v, want ErrExists", err)
		}
		wantNamed(t, err, "Put over an object", "config")
	}
	if got := get(t, s, store.Config, "config", 0, -1); !bytes.Equal(got, orig) {
		t.Errorf("after refused Puts: got %q, want %q", got, orig)
	}
	wantList(t, s, store.Config, map[string]int64{"config": int64(len(orig))})
}

package cache_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/cache"
	"github.com/coffer-backup/coffer/internal/store/local"
	"github.com/coffer-backup/coffer/internal/store/storetest"
)

var ctx = context.Background()

// TestConformance: the cache in front of a local store keeps the store
// contract.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		inner, err := local.Create(filepath.Join(t.TempDir(), "store"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := cache.New(inner, filepath.Join(t.TempDir(), "cache"), 0)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// counting counts the Gets that reach the store, and may serve other
// bytes than it holds (a hostile store).
type counting struct {
	store.Store
	mu    sync.Mutex
	gets  int
	spoil bool
}

func (c *counting) Get(ctx context.Context, kind store.Kind, name string, offset, length int64) (io.ReadCloser, error) {
	c.mu.Lock()
	c.gets++
	spoil := c.spoil
	c.mu.Unlock()
	rc, err := c.Store.Get(ctx, kind, name, offset, length)
	if err != nil || !spoil {
		return rc, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	b[0] ^= 1
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (c *counting) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets
}

type fixture struct {
	inner *counting
	dir   string
	c     *cache.Store
}

func newFixture(t *testing.T, limit int64) *fixture {
	t.Helper()
	st, err := local.Create(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{inner: &counting{Store: st}, dir: filepath.Join(t.TempDir(), "cache")}
	f.c = f.open(t, limit)
	return f
}

func (f *fixture) open(t *testing.T, limit int64) *cache.Store {
	t.Helper()
	c, err := cache.New(f.inner, f.dir, limit)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// object returns n pseudo-random bytes and their content address.
func object(seed, n int) ([]byte, string) {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*131 + i*7 + i/251)
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

// put stores b in the store behind the cache, as another device would.
func (f *fixture) put(t *testing.T, kind store.Kind, name string, b []byte) {
	t.Helper()
	if err := store.PutBytes(ctx, f.inner.Store, kind, name, b); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, ctx context.Context, s store.Store, kind store.Kind, name string, want []byte) {
	t.Helper()
	got, err := store.ReadAll(ctx, s, kind, name, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s/%s: read %d bytes that differ from the %d stored", kind, name, len(got), len(want))
	}
}

// TestWhatIsKept: index and snapshot objects, and packs read with a
// context marked by store.Keep, are read from the store once; anything
// else, ranged reads and objects not named by their hash every time.
func TestWhatIsKept(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kind    store.Kind
		keep    bool // mark the context with store.Keep
		address bool // name the object by its hash
		kept    bool
	}{
		{"index object", store.Index, false, true, true},
		{"snapshot", store.Snapshots, false, true, true},
		{"tree pack", store.Packs, true, true, true},
		{"pack read unmarked", store.Packs, false, true, false},
		{"session marker", store.Sessions, true, true, false},
		{"index object not named by its hash", store.Index, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 0)
			b, name := object(1, 5000)
			if !tc.address {
				name = "not-a-hash"
			}
			f.put(t, tc.kind, name, b)
			c := ctx
			if tc.keep {
				c = store.Keep(ctx)
			}
			for range 3 {
				get(t, c, f.c, tc.kind, name, b)
			}
			want := 3
			if tc.kept {
				want = 1
			}
			if n := f.inner.count(); n != want {
				t.Errorf("%d reads reached the store, want %d", n, want)
			}
			rc, err := f.c.Get(c, tc.kind, name, 10, 20)
			if err != nil {
				t.Fatal(err)
			}
			rc.Close()
			if n := f.inner.count(); n != want+1 {
				t.Errorf("a ranged read did not reach the store")
			}
		})
	}
}

// TestWrittenIsKept: an object written through the cache is read back
// from it, in this process or another sharing the directory.
func TestWrittenIsKept(t *testing.T) {
	f := newFixture(t, 0)
	b, name := object(2, 3000)
	if err := store.PutBytes(ctx, f.c, store.Index, name, b); err != nil {
		t.Fatal(err)
	}
	get(t, ctx, f.c, store.Index, name, b)
	get(t, ctx, f.open(t, 0), store.Index, name, b)
	if n := f.inner.count(); n != 0 {
		t.Errorf("%d reads reached the store", n)
	}
}

// TestCopiesAreVerified: a local copy that does not hash to its name is
// never served, but replaced by the store's; a store that serves bytes
// that do not hash to the name has them passed on, for the caller to
// refuse, and never kept.
func TestCopiesAreVerified(t *testing.T) {
	f := newFixture(t, 0)
	b, name := object(3, 4000)
	f.put(t, store.Snapshots, name, b)
	get(t, ctx, f.c, store.Snapshots, name, b)
	p := filepath.Join(f.dir, "snapshots", name)
	altered := bytes.Clone(b)
	altered[100] ^= 1
	if err := os.WriteFile(p, altered, 0o600); err != nil {
		t.Fatal(err)
	}
	get(t, ctx, f.c, store.Snapshots, name, b)
	if n := f.inner.count(); n != 2 {
		t.Errorf("an altered copy was served: %d reads reached the store, want 2", n)
	}
	if onDisk, err := os.ReadFile(p); err != nil || !bytes.Equal(onDisk, b) {
		t.Errorf("the altered copy was not replaced: %v", err)
	}

	f = newFixture(t, 0)
	f.put(t, store.Snapshots, name, b)
	f.inner.spoil = true
	for range 2 {
		got, err := store.ReadAll(ctx, f.c, store.Snapshots, name, 1<<20)
		if err != nil || bytes.Equal(got, b) {
			t.Fatalf("the hostile store's bytes were not passed on: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(f.dir, "snapshots", name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bytes that do not hash to their name were kept: %v", err)
	}
}

// TestDeleteDropsCopy: deleting through the cache drops the local copy.
func TestDeleteDropsCopy(t *testing.T) {
	f := newFixture(t, 0)
	b, name := object(4, 1000)
	f.put(t, store.Index, name, b)
	get(t, ctx, f.c, store.Index, name, b)
	if err := f.c.Delete(ctx, store.Index, name); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Get(ctx, store.Index, name, 0, -1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
}

// TestTrim: past its limit, the cache drops the copies used least
// recently, when opened and as it grows.
func TestTrim(t *testing.T) {
	f := newFixture(t, 0)
	var names []string
	for i := range 6 {
		b, name := object(10+i, 1000)
		f.put(t, store.Index, name, b)
		get(t, ctx, f.c, store.Index, name, b)
		p := filepath.Join(f.dir, "index", name)
		at := time.Now().Add(time.Duration(i-10) * time.Minute)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	f.open(t, 3500)
	for i, name := range names {
		_, err := os.Stat(filepath.Join(f.dir, "index", name))
		if kept := err == nil; kept != (i >= 3) {
			t.Errorf("copy %d (used %d minutes ago): kept %v", i, 10-i, kept)
		}
	}
	small := f.open(t, 3500)
	for i := range 4 {
		b, name := object(20+i, 1000)
		f.put(t, store.Index, name, b)
		get(t, ctx, small, store.Index, name, b)
	}
	if total := dirSize(t, f.dir); total > 3500 {
		t.Errorf("the cache holds %d bytes, over its limit of 3500", total)
	}
}

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

// TestShared: processes sharing a directory read and write it at once,
// each getting the right bytes.
func TestShared(t *testing.T) {
	f := newFixture(t, 20000)
	objs := map[string][]byte{}
	for i := range 30 {
		b, name := object(40+i, 1500)
		f.put(t, store.Index, name, b)
		objs[name] = b
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		c := f.open(t, 20000)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name, b := range objs {
				got, err := store.ReadAll(ctx, c, store.Index, name, 1<<20)
				if err == nil && !bytes.Equal(got, b) {
					err = fmt.Errorf("worker %d: %s read wrong bytes", w, name)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

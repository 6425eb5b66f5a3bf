package repo_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/pack"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/storetest"
)

// gatedStore holds every pack upload until release is closed, and counts
// the uploads in flight.
type gatedStore struct {
	store.Store
	release chan struct{}
	started chan struct{} // one value per pack upload begun

	once   sync.Once
	flight storetest.Gauge
}

func (g *gatedStore) Put(ctx context.Context, kind store.Kind, name string, r io.Reader, size int64) error {
	if kind != store.Packs {
		return g.Store.Put(ctx, kind, name, r, size)
	}
	defer g.flight.Enter()()
	g.started <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Store.Put(ctx, kind, name, r, size)
}

// open lets every upload through, those waiting and those to come.
func (g *gatedStore) open() {
	g.once.Do(func() {
		close(g.release)
		go func() {
			for range g.started { // never closed: Put may still send after the test
			}
		}()
	})
}

func (g *gatedStore) counts() (now, most int) {
	now, most, _ = g.flight.Counts()
	return now, most
}

// TestPacksInFlight checks the bound on the memory of a backup: with n
// uploads allowed (2 unless SetUploads says otherwise), a store that does
// not answer sees exactly n pack uploads at once, and saving blocks
// instead of starting another, whatever the kind of store.
func TestPacksInFlight(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3} { // 0: the default
		t.Run(map[int]string{0: "default", 1: "one", 2: "two", 3: "three"}[n], func(t *testing.T) {
			want := n
			if n == 0 {
				want = 2
			}
			g := newGatedRepo(t, n)
			done := make(chan error, 1)
			go func() { done <- saveDataPacks(g.r, want+2) }()
			for range want {
				select {
				case <-g.st.started:
				case err := <-done:
					t.Fatalf("saving ended with fewer than %d uploads begun: %v", want, err)
				case <-time.After(20 * time.Second):
					t.Fatalf("fewer than %d uploads begun", want)
				}
			}
			select { // saving the rest must wait for an upload to finish
			case <-g.st.started:
				t.Fatalf("upload %d began while %d were in flight", want+1, want)
			case err := <-done:
				t.Fatalf("saving %d packs ended while the store answered none: %v", want+2, err)
			case <-time.After(300 * time.Millisecond):
			}
			if now, _ := g.st.counts(); now != want {
				t.Fatalf("%d uploads in flight, want %d", now, want)
			}
			g.st.open()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if err := g.r.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if _, most := g.st.counts(); most != want {
				t.Errorf("at most %d uploads in flight, want %d", most, want)
			}
		})
	}
}

type gatedRepo struct {
	st *gatedStore
	r  *repo.Repo
}

// newGatedRepo creates a repository in a gated local store; n > 0 sets
// the uploads allowed at once.
func newGatedRepo(t *testing.T, n int) gatedRepo {
	t.Helper()
	f := newFixture(t)
	g := &gatedStore{Store: f.st, release: make(chan struct{}), started: make(chan struct{})}
	r, err := repo.Open(ctx, g, f.dev)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	t.Cleanup(g.open) // after a failure, let the uploads end before r closes
	if n > 0 {
		r.SetUploads(n)
	}
	return gatedRepo{st: g, r: r}
}

// saveDataPacks saves distinct 1 MiB data blobs until packs packs are full.
func saveDataPacks(r *repo.Repo, packs int) error {
	const size = 1 << 20
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	for i := range packs * (pack.TargetSize/size + 1) {
		binary.LittleEndian.PutUint64(b, uint64(i))
		if _, _, err := r.SaveBlob(ctx, blob.Data, b); err != nil {
			return err
		}
	}
	return nil
}

// Package testrepo gives round-trip tests a fresh repository on a local
// store and the few steps they repeat: back up, restore through a second
// handle opened from the store (so only what was persisted is used), and
// read tree nodes back from the repository.
package testrepo

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/restorer"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
	"github.com/coffer-backup/coffer/internal/tree"
)

// Repo is a repository created for one test, with the device that opens it.
type Repo struct {
	*repo.Repo
	Store store.Store
	dev   *keys.Device
}

// New creates an empty repository in a temporary directory of t.
func New(t testing.TB) *Repo {
	t.Helper()
	st, err := local.Create(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	dev, err := keys.NewDevice("test")
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := repo.Create(context.Background(), st, dev)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return &Repo{Repo: r, Store: st, dev: dev}
}

// Backup loads the index and backs up paths, failing the test on error. It
// returns the archiver, whose Stats the test may check, and the result.
func (r *Repo) Backup(t testing.TB, opts archiver.Options, paths ...string) (*archiver.Archiver, *archiver.Result) {
	t.Helper()
	ctx := context.Background()
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if opts.Hostname == "" {
		opts.Hostname = "testhost"
	}
	a := archiver.New(r.Repo, opts)
	res, err := a.Run(ctx, paths)
	if err != nil {
		t.Fatalf("backup of %q: %v", paths, err)
	}
	return a, res
}

// Snapshot loads a snapshot through a fresh handle.
func (r *Repo) Snapshot(t testing.TB, id blob.ID) snapshot.Stored {
	t.Helper()
	sn, err := r.Reopen(t).LoadSnapshot(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return sn
}

// Reopen opens the repository again from its store and loads the index.
func (r *Repo) Reopen(t testing.TB) *repo.Repo {
	t.Helper()
	return r.OpenOn(t, r.Store)
}

// OpenOn opens the repository from st, which must hold the repository's
// objects (a wrapper of r.Store, say, that counts reads), and loads the
// index.
func (r *Repo) OpenOn(t testing.TB, st store.Store) *repo.Repo {
	t.Helper()
	ctx := context.Background()
	o, err := repo.Open(ctx, st, r.dev)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	if err := o.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	return o
}

// Restore restores the tree root through a fresh handle and returns the
// restorer, for its Stats and Warnings, and its error.
func (r *Repo) Restore(t testing.TB, root blob.ID, opts restorer.Options) (*restorer.Restorer, error) {
	t.Helper()
	rs := restorer.New(r.Reopen(t), opts)
	return rs, rs.Run(context.Background(), root)
}

// MustRestore restores the snapshot id into target, failing the test on any
// error or warning.
func (r *Repo) MustRestore(t testing.TB, id blob.ID, target string) {
	t.Helper()
	rs, err := r.Restore(t, r.Snapshot(t, id).Tree, restorer.Options{Target: target})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if w := rs.Warnings(); len(w) > 0 {
		t.Fatalf("restore warnings: %v", w)
	}
}

// Node returns the node at the '/'-separated path below the root tree of a
// snapshot, read from the repository, failing the test if there is none.
func (r *Repo) Node(t testing.TB, root blob.ID, p string) *tree.Node {
	t.Helper()
	dir := &tree.Node{Type: tree.Dir, Subtrees: []blob.ID{root}}
	for name := range strings.SplitSeq(p, "/") {
		if name != "" {
			dir = r.child(t, dir, name)
		}
	}
	return dir
}

func (r *Repo) child(t testing.TB, dir *tree.Node, name string) *tree.Node {
	t.Helper()
	for _, id := range dir.Subtrees {
		b, err := r.LoadBlob(context.Background(), blob.Tree, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := tree.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tr.Nodes {
			if string(n.Name) == name {
				return n
			}
		}
	}
	t.Fatalf("no entry %q in directory %q", name, dir.Name)
	return nil
}

package pruner

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/checker"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/restorer"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
)

// errStopped is what test hooks return to simulate a crash.
var errStopped = errors.New("simulated crash")

// fixture is a repository in a local store, opened afresh, like a new
// process, for every operation, and the files each remaining snapshot must
// restore to.
type fixture struct {
	t   testing.TB
	dir string
	dev *keys.Device

	mu   sync.Mutex
	want map[blob.ID]files
}

// files maps file names to contents.
type files map[string][]byte

var ctx = context.Background()

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dev, err := keys.NewDevice("test")
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := repo.Create(ctx, st, dev)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	return &fixture{t: t, dir: dir, dev: dev, want: make(map[blob.ID]files)}
}

func (f *fixture) open() *repo.Repo {
	f.t.Helper()
	st, err := local.Open(f.dir)
	if err != nil {
		f.t.Fatal(err)
	}
	r, err := repo.Open(ctx, st, f.dev)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		r.Close()
		st.Close()
	})
	return r
}

// content returns n pseudo-random (so incompressible) bytes.
func content(seed uint64, n int) []byte {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

// set builds files named after their seeds, 40 KiB each: one blob apiece.
func set(seeds ...uint64) files {
	fs := make(files)
	for _, s := range seeds {
		fs["f"+string(rune('a'+s))] = content(s, 40<<10)
	}
	return fs
}

// backup backs files up as the CLI does.
func (f *fixture) backup(fs files) blob.ID {
	f.t.Helper()
	id, err := f.tryBackup(f.open(), fs)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// archive writes the snapshot of fs with r, whose index the caller loaded.
func (f *fixture) archive(r *repo.Repo, fs files) blob.ID {
	f.t.Helper()
	id, err := f.tryArchive(r, fs)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// tryBackup runs a backup with r as the CLI does: a session around
// LoadIndex and the archiver. It may run on any goroutine.
func (f *fixture) tryBackup(r *repo.Repo, fs files) (blob.ID, error) {
	sess, err := r.StartSession(ctx, "test")
	if err != nil {
		return blob.ID{}, err
	}
	defer sess.End(ctx)
	if err := r.LoadIndex(ctx); err != nil {
		return blob.ID{}, err
	}
	id, err := f.tryArchive(r, fs)
	if err != nil {
		return id, err
	}
	return id, sess.End(ctx)
}

// tryArchive writes the snapshot of fs with r, and records what it must
// restore to. It may run on any goroutine.
func (f *fixture) tryArchive(r *repo.Repo, fs files) (blob.ID, error) {
	src := filepath.Join(f.t.TempDir(), "data")
	if err := os.Mkdir(src, 0o700); err != nil {
		return blob.ID{}, err
	}
	for name, data := range fs {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o600); err != nil {
			return blob.ID{}, err
		}
	}
	res, err := archiver.New(r, archiver.Options{Hostname: "test", Workers: 2}).Run(ctx, []string{src})
	if err != nil {
		return blob.ID{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.want[res.Snapshot] = fs
	return res.Snapshot, nil
}

func (f *fixture) forget(ids ...blob.ID) {
	f.t.Helper()
	r := f.open()
	for _, id := range ids {
		if err := r.DeleteSnapshot(ctx, id); err != nil {
			f.t.Fatal(err)
		}
		delete(f.want, id)
	}
}

func (f *fixture) prune(opts Options) *Result {
	f.t.Helper()
	res, err := Prune(ctx, f.open(), opts)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// packs lists the packs in the store.
func (f *fixture) packs() map[blob.ID]int64 {
	f.t.Helper()
	sizes, err := f.open().PackSizes(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return sizes
}

// newPacks returns the packs in now that are not in before.
func newPacks(before, now map[blob.ID]int64) []blob.ID {
	var out []blob.ID
	for id := range now {
		if _, ok := before[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// dataPack returns the one data pack among ids, failing unless there is
// exactly one: a backup writes its data blobs and its trees to packs of
// their own (docs/format.md §6.1).
func (f *fixture) dataPack(ids []blob.ID) blob.ID {
	f.t.Helper()
	var out []blob.ID
	for id, kind := range f.packKinds() {
		if slices.Contains(ids, id) && kind == blob.Data {
			out = append(out, id)
		}
	}
	if len(out) != 1 {
		f.t.Fatalf("%d data packs among %d", len(out), len(ids))
	}
	return out[0]
}

// packKinds returns the type of the blobs of every pack, failing if a pack
// holds blobs of both types.
func (f *fixture) packKinds() map[blob.ID]blob.Type {
	f.t.Helper()
	r := f.open()
	kinds := make(map[blob.ID]blob.Type)
	for id, size := range f.packs() {
		entries, err := r.PackHeader(ctx, id, size)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, e := range entries {
			if e.Type != entries[0].Type {
				f.t.Fatalf("pack %s holds both tree and data blobs", id.Short())
			}
		}
		kinds[id] = entries[0].Type
	}
	return kinds
}

func (f *fixture) count(kind store.Kind) int {
	f.t.Helper()
	names, err := f.open().Names(ctx, kind)
	if err != nil {
		f.t.Fatal(err)
	}
	return len(names)
}

// verify runs a full check, which must find nothing wrong, and restores
// every remaining snapshot.
func (f *fixture) verify() {
	f.t.Helper()
	rep, err := checker.Check(ctx, f.open(), true)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(rep.Errors) > 0 {
		f.t.Fatalf("check found %d errors, first: %s", len(rep.Errors), rep.Errors[0])
	}
	f.restoreAll()
}

// restoreAll restores every remaining snapshot and compares its files.
func (f *fixture) restoreAll() {
	f.t.Helper()
	r := f.open()
	if err := r.LoadIndex(ctx); err != nil {
		f.t.Fatal(err)
	}
	for id, fs := range f.want {
		sn, err := r.LoadSnapshot(ctx, id)
		if err != nil {
			f.t.Fatal(err)
		}
		target := f.t.TempDir()
		if err := restorer.New(r, restorer.Options{Target: target}).Run(ctx, sn.Tree); err != nil {
			f.t.Fatalf("restoring snapshot %s: %v", id.Short(), err)
		}
		for name, data := range fs {
			got, err := os.ReadFile(filepath.Join(target, "data", name))
			if err != nil || !bytes.Equal(got, data) {
				f.t.Fatalf("snapshot %s: file %s not restored intact (%v)", id.Short(), name, err)
			}
		}
	}
}

// settle prunes until a prune finds nothing to do, which must happen
// within a few runs (small packs merge into ever fewer packs). No session
// is running, so no plan may stay pending.
func (f *fixture) settle() {
	f.t.Helper()
	for range 3 {
		res := f.prune(Options{})
		if len(res.Pending) != 0 {
			f.t.Fatalf("settling: pending %v", res.Pending)
		}
		f.t.Logf("settle: %+v", *res)
		if res.PlannedPacks == 0 && res.DeletedPacks == 0 {
			return
		}
	}
	f.t.Fatal("prune did not settle in three runs")
}

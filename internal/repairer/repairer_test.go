package repairer_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/checker"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/hostile"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repairer"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/restorer"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
)

var ctx = context.Background()

// fixture is a repository in a local store with one snapshot, made by the
// real archiver, of files of pseudo-random bytes.
type fixture struct {
	t     *testing.T
	dir   string
	dev   *keys.Device
	snap  blob.ID
	files map[string][]byte
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), files: make(map[string][]byte)}
	st, err := local.Create(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if f.dev, err = keys.NewDevice("full"); err != nil {
		t.Fatal(err)
	}
	r, _, err := repo.Create(ctx, st, f.dev)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"a", "b", "sub/c"} {
		b := make([]byte, 30<<10)
		rand.NewChaCha8([32]byte{byte(i)}).Read(b)
		f.files[name] = b
		if err := os.WriteFile(filepath.Join(src, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res, err := archiver.New(r, archiver.Options{Hostname: "full"}).Run(ctx, []string{src})
	if err != nil {
		t.Fatal(err)
	}
	f.snap = res.Snapshot
	return f
}

// open opens the repository as a new process would, through wrap.
func (f *fixture) open(wrap func(store.Store) store.Store) *repo.Repo {
	f.t.Helper()
	st, err := local.Open(f.dir)
	if err != nil {
		f.t.Fatal(err)
	}
	r, err := repo.Open(ctx, wrap(st), f.dev)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(r.Close)
	return r
}

func plain(s store.Store) store.Store { return s }

// names lists every object of the store, by kind.
func (f *fixture) names() map[store.Kind][]string {
	out := make(map[store.Kind][]string)
	r := f.open(plain)
	for _, k := range store.Kinds {
		n, err := r.Names(ctx, k)
		if err != nil {
			f.t.Fatal(err)
		}
		slices.Sort(n)
		out[k] = n
	}
	return out
}

// restore restores the snapshot and compares every file.
func (f *fixture) restore() error {
	r := f.open(plain)
	if err := r.LoadIndex(ctx); err != nil {
		return err
	}
	sn, err := r.LoadSnapshot(ctx, f.snap)
	if err != nil {
		return err
	}
	target := f.t.TempDir()
	if err := restorer.New(r, restorer.Options{Target: target}).Run(ctx, sn.Tree); err != nil {
		return err
	}
	for name, b := range f.files {
		got, err := os.ReadFile(filepath.Join(target, "data", name))
		if err != nil || !bytes.Equal(got, b) {
			return errors.New("file " + name + " not restored intact")
		}
	}
	return nil
}

func (f *fixture) check() *checker.Report {
	f.t.Helper()
	rep, err := checker.Check(ctx, f.open(plain), true)
	if err != nil {
		f.t.Fatal(err)
	}
	return rep
}

func (f *fixture) repair(opts repairer.Options, wrap func(store.Store) store.Store) *repairer.Result {
	f.t.Helper()
	res, err := repairer.Repair(ctx, f.open(wrap), opts)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// lies are what a device holding the keys can store; each returns the
// packs it added.
var lies = []struct {
	name string
	lie  func(t *testing.T, r *repo.Repo) []blob.ID
}{
	{"pack of random bytes", func(t *testing.T, r *repo.Repo) []blob.ID { return lyingPack(t, r, hostile.RandomBytes) }},
	{"pack of other content", func(t *testing.T, r *repo.Repo) []blob.ID { return lyingPack(t, r, hostile.OtherContent) }},
	{"index shifting the genuine packs", func(t *testing.T, r *repo.Repo) []blob.ID {
		if _, err := hostile.ShiftedIndex(ctx, r); err != nil {
			t.Fatal(err)
		}
		return nil
	}},
	{"sealed index object that does not decode", func(t *testing.T, r *repo.Repo) []blob.ID {
		if _, err := r.SaveObject(ctx, store.Index, crypt.ADIndex, []byte("not an index")); err != nil {
			t.Fatal(err)
		}
		return nil
	}},
}

func lyingPack(t *testing.T, r *repo.Repo, lie hostile.Lie) []blob.ID {
	p, err := hostile.LyingPack(ctx, r, lie)
	if err != nil {
		t.Fatal(err)
	}
	return []blob.ID{p.ID}
}

func listings(t *testing.T, r *repo.Repo) []index.Pack {
	packs, err := hostile.Packs(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	return packs
}

func TestRepairCleanRepository(t *testing.T) {
	f := newFixture(t)
	before := f.names()
	res := f.repair(repairer.Options{}, plain)
	if !res.Clean() || res.WrittenIndex != 0 || res.Packs == 0 || res.Copies == 0 {
		t.Errorf("repair of a clean repository: %+v", res)
	}
	if !equalNames(before, f.names()) {
		t.Error("repair of a clean repository changed the store")
	}
}

// TestRepairRemovesLies: after each lie, a dry run reports it and changes
// nothing; a repair writes an index of the authentic copies only, deletes
// the old objects and the lying packs, and leaves a repository that checks
// clean and restores.
func TestRepairRemovesLies(t *testing.T) {
	for _, lie := range lies {
		t.Run(lie.name, func(t *testing.T) {
			f := newFixture(t)
			bad := lie.lie(t, f.open(plain))
			if rep := f.check(); len(rep.Errors) == 0 {
				t.Fatal("check finds nothing wrong after the lie")
			}
			before := f.names()
			dry := f.repair(repairer.Options{DryRun: true}, plain)
			if dry.Clean() || dry.WrittenIndex == 0 || !slices.Equal(dry.BadPacks, sortIDs(bad)) {
				t.Errorf("dry run: %+v", dry)
			}
			if !equalNames(before, f.names()) {
				t.Fatal("a dry run changed the store")
			}
			res := f.repair(repairer.Options{}, plain)
			t.Logf("%+v", res)
			if res.WrittenIndex != dry.WrittenIndex || res.DeletedIndex != len(before[store.Index]) || res.DeletedPacks != len(bad) || len(res.Lost) != 0 {
				t.Errorf("repair: %+v; dry run %+v", res, dry)
			}
			if rep := f.check(); len(rep.Errors) != 0 || len(rep.Notes) != 0 {
				t.Errorf("check after repair: errors %q, notes %q", rep.Errors, rep.Notes)
			}
			if again := f.repair(repairer.Options{}, plain); !again.Clean() || again.WrittenIndex != 0 {
				t.Errorf("a second repair: %+v", again)
			}
			if err := f.restore(); err != nil {
				t.Error(err)
			}
		})
	}
}

// noDelete refuses every deletion, as a server does to an append-only
// device.
type noDelete struct{ store.Store }

func (noDelete) Delete(context.Context, store.Kind, string) error {
	return errors.New("an append-only device may delete only the sessions objects it created (HTTP 403)")
}

// TestRepairOnAppendOnlyDevice: where the store refuses deletion, repair
// still writes the index of authentic copies, superseding the old objects,
// and says what it could not delete; reads keep working.
func TestRepairOnAppendOnlyDevice(t *testing.T) {
	f := newFixture(t)
	bad := lyingPack(t, f.open(plain), hostile.RandomBytes)
	indexBefore := len(f.names()[store.Index])
	res := f.repair(repairer.Options{}, func(s store.Store) store.Store { return noDelete{s} })
	if res.WrittenIndex != 1 || res.DeletedIndex != 0 || !strings.Contains(res.DeleteRefused, "append-only") || !slices.Equal(res.BadPacks, bad) {
		t.Errorf("repair on an append-only device: %+v", res)
	}
	if n := len(f.names()[store.Index]); n != indexBefore+1 {
		t.Errorf("%d index objects, want the %d old ones and the new one", n, indexBefore)
	}
	if err := f.restore(); err != nil {
		t.Error(err)
	}
	full := f.repair(repairer.Options{}, plain) // then on a full device
	if full.DeletedIndex != indexBefore+1 || full.DeletedPacks != 1 {
		t.Errorf("repair on a full device after: %+v", full)
	}
	if rep := f.check(); len(rep.Errors) != 0 {
		t.Errorf("check: %q", rep.Errors)
	}
}

// TestRepairReportsLost: a pack the store lost leaves a snapshot whose
// files have no authentic copy; repair names them.
func TestRepairReportsLost(t *testing.T) {
	f := newFixture(t)
	packs := f.names()[store.Packs]
	st, err := local.Open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range packs {
		if err := st.Delete(ctx, store.Packs, p); err != nil {
			t.Fatal(err)
		}
	}
	res := f.repair(repairer.Options{DryRun: true}, plain)
	if len(res.Lost) != 1 || res.Lost[0].Snapshot != f.snap || res.Lost[0].Path != "/" || res.Lost[0].Type != "tree" {
		t.Errorf("lost %+v, want the snapshot's root tree", res.Lost)
	}
}

func equalNames(a, b map[store.Kind][]string) bool {
	for k := range a {
		if !slices.Equal(a[k], b[k]) {
			return false
		}
	}
	return len(a) == len(b)
}

func sortIDs(ids []blob.ID) []blob.ID {
	slices.SortFunc(ids, func(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) })
	if ids == nil {
		return []blob.ID{}
	}
	return ids
}

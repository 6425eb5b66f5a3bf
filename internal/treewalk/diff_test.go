package treewalk_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

func diff(t *testing.T, r *repo.Repo, a, b blob.ID) []string {
	t.Helper()
	var got []string
	err := treewalk.Diff(ctx, r, treewalk.Root{Tree: a}, treewalk.Root{Tree: b}, func(c treewalk.Change) error {
		got = append(got, c.Kind+" "+c.Path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// twoSnapshots backs up src in its first state, changes it, and backs it
// up again.
func twoSnapshots(t *testing.T, r *repo.Repo) (before, after blob.ID) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	build(t, src,
		entry{"keep.txt", "same"}, entry{"mod.txt", "v1"}, entry{"chmod.txt", "x"}, entry{"gone.txt", "bye"},
		entry{"gonedir/x.txt", "x"}, entry{"gonedir/sub/y.txt", "y"}, entry{"typechg", "a file"},
		entry{"dirsame/f.txt", "f"}, entry{"link", "->a"}, entry{"touched.txt", "t"},
	)
	before = backup(t, r, src)
	for _, p := range []string{"gone.txt", "gonedir", "typechg", "link", "mod.txt"} {
		if err := os.RemoveAll(filepath.Join(src, p)); err != nil {
			t.Fatal(err)
		}
	}
	build(t, src, entry{"typechg/inner.txt", "i"}, entry{"new.txt", "n"}, entry{"newdir/n.txt", "n"},
		entry{"link", "->b"}, entry{"mod.txt", "v2"}) // same size as before
	if err := os.Chmod(filepath.Join(src, "chmod.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(src, "touched.txt"), later, later); err != nil {
		t.Fatal(err)
	}
	return before, backup(t, r, src)
}

func TestDiff(t *testing.T) {
	r := newRepo(t)
	a, b := twoSnapshots(t, r)
	// /src itself is modified: adding and removing entries changed its mtime.
	forward := []string{
		"modified /src",
		"modified /src/chmod.txt",
		"removed /src/gone.txt",
		"removed /src/gonedir",
		"removed /src/gonedir/sub",
		"removed /src/gonedir/sub/y.txt",
		"removed /src/gonedir/x.txt",
		"modified /src/link",
		"modified /src/mod.txt",
		"added /src/new.txt",
		"added /src/newdir",
		"added /src/newdir/n.txt",
		"modified /src/touched.txt",
		"removed /src/typechg",
		"added /src/typechg",
		"added /src/typechg/inner.txt",
	}
	backward := []string{
		"modified /src",
		"modified /src/chmod.txt",
		"added /src/gone.txt",
		"added /src/gonedir",
		"added /src/gonedir/sub",
		"added /src/gonedir/sub/y.txt",
		"added /src/gonedir/x.txt",
		"modified /src/link",
		"modified /src/mod.txt",
		"removed /src/new.txt",
		"removed /src/newdir",
		"removed /src/newdir/n.txt",
		"modified /src/touched.txt",
		"removed /src/typechg",
		"removed /src/typechg/inner.txt",
		"added /src/typechg",
	}
	for _, c := range []struct {
		name string
		x, y blob.ID
		want []string
	}{
		{"forward", a, b, forward},
		{"backward", b, a, backward},
		{"same snapshot", a, a, nil},
	} {
		if got := diff(t, r, c.x, c.y); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestDiffUnchangedTreeIsNotRead(t *testing.T) {
	r := newRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	build(t, src, entry{"f", "1"})
	a := backup(t, r, src)
	// The same root on both sides is never loaded: an ID that is not stored
	// compares equal to itself without error.
	missing := blob.ID{7}
	if got := diff(t, r, missing, missing); len(got) != 0 {
		t.Fatalf("changes %q", got)
	}
	if err := treewalk.Diff(ctx, r, treewalk.Root{Tree: a}, treewalk.Root{Tree: missing}, func(treewalk.Change) error { return nil }); err == nil {
		t.Fatal("diff against a tree that is not stored succeeded")
	}
}

func TestDiffStopsOnError(t *testing.T) {
	r := newRepo(t)
	a, b := twoSnapshots(t, r)
	stop := errors.New("stop")
	n := 0
	err := treewalk.Diff(ctx, r, treewalk.Root{Tree: a}, treewalk.Root{Tree: b}, func(treewalk.Change) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Fatalf("err %v after %d changes", err, n)
	}
}

// TestDiffDirectoryMetadata changes only a directory's own metadata.
func TestDiffDirectoryMetadata(t *testing.T) {
	r := newRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	build(t, src, entry{"d/f", "1"})
	a := backup(t, r, src)
	if err := os.Chmod(filepath.Join(src, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	b := backup(t, r, src)
	if got := diff(t, r, a, b); !reflect.DeepEqual(got, []string{"modified /src/d"}) {
		t.Fatalf("chmod of a directory reported as %q", got)
	}
}

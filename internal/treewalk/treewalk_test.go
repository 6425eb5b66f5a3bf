package treewalk_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/testtree/testrepo"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

var ctx = context.Background()

func newRepo(t *testing.T) *repo.Repo { return testrepo.New(t).Repo }

// backup runs the real archiver over dir and returns the snapshot's root
// tree.
func backup(t *testing.T, r *repo.Repo, dir string) blob.ID {
	t.Helper()
	res, err := archiver.New(r, archiver.Options{Hostname: "h"}).Run(ctx, []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) > 0 {
		t.Fatalf("backup warnings: %v", res.Warnings)
	}
	sn, err := r.LoadSnapshot(ctx, res.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	return sn.Tree
}

// entry describes one item to create: a file with content, a directory
// (content "/"), or a symlink (content "->target").
type entry struct{ path, content string }

var epoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func build(t *testing.T, root string, entries ...entry) {
	t.Helper()
	for i, e := range entries {
		p := filepath.Join(root, e.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case e.content == "/":
			err = os.Mkdir(p, 0o755)
		case strings.HasPrefix(e.content, "->"):
			err = os.Symlink(e.content[2:], p)
		default:
			err = os.WriteFile(p, []byte(e.content), 0o644)
			if err == nil {
				// distinct, fixed times: equal content and size still
				// differ by mtime only where a test wants it.
				err = os.Chtimes(p, epoch, epoch.Add(time.Duration(i)*time.Second))
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func walkPaths(t *testing.T, r *repo.Repo, root blob.ID, fn func(string, *tree.Node) error) []string {
	t.Helper()
	var got []string
	err := treewalk.Walk(ctx, r, treewalk.Root{Tree: root}, func(p string, n *tree.Node) error {
		got = append(got, p)
		if fn != nil {
			return fn(p, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestWalk(t *testing.T) {
	r := newRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	build(t, src,
		entry{"z.txt", "z"}, entry{"a.txt", "hello"}, entry{"b/d/e.txt", "e"}, entry{"b/c.txt", "c"},
		entry{"link", "->a.txt"}, entry{"b/empty", "/"}, entry{"B", "upper case sorts first"},
		entry{"name with spaces", ""}, entry{"\xff\xfe", "not UTF-8"},
	)
	root := backup(t, r, src)
	all := []string{"/src", "/src/B", "/src/a.txt", "/src/b", "/src/b/c.txt", "/src/b/d", "/src/b/d/e.txt",
		"/src/b/empty", "/src/link", "/src/name with spaces", "/src/z.txt", "/src/\xff\xfe"}
	for _, c := range []struct {
		name string
		skip string // SkipDir is returned for this path
		want []string
	}{
		{"everything, parents first, by name", "", all},
		{"skip a directory", "/src/b", []string{"/src", "/src/B", "/src/a.txt", "/src/b", "/src/link",
			"/src/name with spaces", "/src/z.txt", "/src/\xff\xfe"}},
		{"skip the root", "/src", []string{"/src"}},
		{"SkipDir from a file is ignored", "/src/a.txt", all},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := walkPaths(t, r, root, func(p string, _ *tree.Node) error {
				if p == c.skip {
					return treewalk.SkipDir
				}
				return nil
			})
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
	kinds := map[string]tree.NodeType{}
	walkPaths(t, r, root, func(p string, n *tree.Node) error { kinds[p] = n.Type; return nil })
	if kinds["/src/link"] != tree.Symlink || kinds["/src/b/d"] != tree.Dir || kinds["/src/b/d/e.txt"] != tree.File {
		t.Errorf("node types %v", kinds)
	}
}

func TestWalkStopsOnError(t *testing.T) {
	r := newRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	build(t, src, entry{"a/b", "1"}, entry{"c", "2"})
	root := backup(t, r, src)
	stop := errors.New("stop")
	var seen []string
	err := treewalk.Walk(ctx, r, treewalk.Root{Tree: root}, func(p string, _ *tree.Node) error {
		seen = append(seen, p)
		if p == "/src/a/b" {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !reflect.DeepEqual(seen, []string{"/src", "/src/a", "/src/a/b"}) {
		t.Fatalf("err %v after %q", err, seen)
	}
	if err := treewalk.Walk(ctx, r, treewalk.Root{Tree: blob.ID{1}}, func(string, *tree.Node) error { return nil }); err == nil {
		t.Fatal("walking a tree that is not stored succeeded")
	}
}

// saveTree stores a tree blob of the given nodes.
func saveTree(t *testing.T, r *repo.Repo, nodes ...*tree.Node) blob.ID {
	t.Helper()
	b, err := (&tree.Tree{Nodes: nodes}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := r.SaveBlob(ctx, blob.Tree, b)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func file(name string, size uint64) *tree.Node {
	n := &tree.Node{Name: []byte(name), Type: tree.File, Mode: 0o644, Size: size}
	if size > 0 {
		n.Content = []tree.Extent{{ID: blob.ID{byte(size)}, Length: size}}
	}
	return n
}

func dir(name string, subtrees ...blob.ID) *tree.Node {
	return &tree.Node{Name: []byte(name), Type: tree.Dir, Mode: 0o755, Subtrees: subtrees}
}

// TestSplitListing walks and diffs a directory whose listing is split
// across several tree blobs (docs/format.md §5.4): the entries are the
// concatenation, and a different split of the same entries is no change.
func TestSplitListing(t *testing.T) {
	r := newRepo(t)
	one := saveTree(t, r, file("a", 1), file("b", 2))
	two := saveTree(t, r, file("c", 3))
	whole := saveTree(t, r, file("a", 1), file("b", 2), file("c", 3))
	split := saveTree(t, r, dir("d", one, two))
	joined := saveTree(t, r, dir("d", whole))
	changed := saveTree(t, r, dir("d", one, saveTree(t, r, file("c", 4), file("e", 5))))
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := walkPaths(t, r, split, nil); !reflect.DeepEqual(got, []string{"/d", "/d/a", "/d/b", "/d/c"}) {
		t.Errorf("walk of a split listing: %q", got)
	}
	if got := diff(t, r, split, joined); len(got) != 0 {
		t.Errorf("re-split listing reported as %q", got)
	}
	if got, want := diff(t, r, joined, changed), []string{"modified /d/c", "added /d/e"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestWalkArchiverSplit backs up a directory whose encoded entries exceed
// the archiver's 1 MiB cut and checks that it is stored as several tree
// blobs, each under the cut, that list every entry once, in order.
func TestWalkArchiverSplit(t *testing.T) {
	r := newRepo(t)
	src := filepath.Join(t.TempDir(), "big")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	const files = 4000
	var want []string
	pad := strings.Repeat("n", 240)
	for i := range files {
		name := fmt.Sprintf("%s%05d", pad, i)
		if err := os.WriteFile(filepath.Join(src, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		want = append(want, "/big/"+name)
	}
	root := backup(t, r, src)
	var subtrees []blob.ID
	got := walkPaths(t, r, root, func(p string, n *tree.Node) error {
		if p == "/big" {
			subtrees = n.Subtrees
		}
		return nil
	})
	if !reflect.DeepEqual(got[1:], want) {
		t.Fatalf("walk lists %d entries, want %d in order", len(got)-1, files)
	}
	if len(subtrees) < 2 {
		t.Fatalf("%d tree blobs for a listing over 1 MiB", len(subtrees))
	}
	for _, id := range subtrees {
		b, err := r.LoadBlob(ctx, blob.Tree, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 1<<20+16 {
			t.Errorf("tree blob of %d bytes, over the 1 MiB cut", len(b))
		}
	}
}

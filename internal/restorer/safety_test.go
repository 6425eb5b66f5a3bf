//go:build linux

package restorer_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/restorer"
	"github.com/coffer-backup/coffer/internal/testtree"
	"github.com/coffer-backup/coffer/internal/tree"
)

// sandbox is a directory holding a restore target, deep enough that names
// like ".." cannot climb out of the sandbox, and a tree outside the target
// that planted links point to.
type sandbox struct {
	dir, target, outside string
}

func newSandbox(t *testing.T) sandbox {
	t.Helper()
	dir := t.TempDir()
	s := sandbox{dir, filepath.Join(dir, "a", "b", "c", "target"), filepath.Join(dir, "outside")}
	testtree.Build(t, s.outside, testtree.Spec{
		{Path: "victim", Data: []byte("must survive"), Mode: 0o644},
		{Path: "dir", Type: tree.Dir, Mode: 0o755},
		{Path: "dir/inner", Data: []byte("must survive too")},
	})
	must(t, os.MkdirAll(s.target, 0o755))
	return s
}

// outsideTarget records the sandbox but for the target and what is in it.
func (s sandbox) outsideTarget(t *testing.T) testtree.Tree {
	t.Helper()
	rel, err := filepath.Rel(s.dir, s.target)
	must(t, err)
	return testtree.MustScan(t, s.dir, rel)
}

// checkOutside fails the test if anything outside the target changed since
// before.
func (s sandbox) checkOutside(t *testing.T, before testtree.Tree) {
	t.Helper()
	if d := testtree.Diff(before, s.outsideTarget(t)); len(d) > 0 {
		t.Errorf("the restore changed files outside its target:\n%s", strings.Join(d, "\n"))
	}
}

var overwriteSpec = testtree.Spec{
	{Path: "f", Data: []byte("snapshot f"), Mode: 0o640, MTime: 1},
	{Path: "d/g", Data: []byte("snapshot g")},
	{Path: "l", Type: tree.Symlink, Target: "snapshot-target"},
	{Path: "p", Type: tree.Fifo},
	{Path: "h", Link: "f"},
	{Path: "wasdir", Data: []byte("a file in the snapshot")},
	{Path: "wasfile", Type: tree.Dir},
	{Path: "wasfile/x", Data: []byte("x")},
}

// existing is what the target holds before the restore: something else at
// every path of overwriteSpec.
var existing = testtree.Spec{
	{Path: "f", Data: []byte("mine"), Mode: 0o600, MTime: 2},
	{Path: "d/g", Data: []byte("mine too")},
	{Path: "l", Type: tree.Symlink, Target: "my-target"},
	{Path: "p", Data: []byte("a file, not a fifo")},
	{Path: "h", Data: []byte("not a link")},
	{Path: "wasdir", Type: tree.Dir},
	{Path: "wasfile", Data: []byte("a file, not a directory")},
}

// TestOverwrite restores over existing files: refused one by one without
// Overwrite, leaving each as it was, and replaced with it.
func TestOverwrite(t *testing.T) {
	t.Parallel()
	b := backup(t, overwriteSpec)
	target := t.TempDir()
	mine := filepath.Join(target, "src")
	testtree.Build(t, mine, existing)
	before := testtree.MustScan(t, mine)

	err := b.restore(t, restorer.Options{Target: target})
	if err == nil {
		t.Fatal("restoring over existing files succeeded without Overwrite")
	}
	after := testtree.MustScan(t, mine)
	for p, it := range before {
		if it.Type != tree.Dir || p == "wasdir" {
			if d := testtree.Diff(testtree.Tree{p: it}, testtree.Tree{p: after[p]}); len(d) > 0 {
				t.Errorf("without Overwrite: %q", d)
			}
		}
	}

	must(t, b.restore(t, restorer.Options{Target: target, Overwrite: restorer.OverwriteAlways}))
	testtree.Compare(t, b.src, mine)
}

// TestOverwriteNonEmptyDir checks that Overwrite does not delete a directory
// with content to put a file in its place.
func TestOverwriteNonEmptyDir(t *testing.T) {
	t.Parallel()
	b := backup(t, testtree.Spec{{Path: "f", Data: []byte("file")}})
	target := t.TempDir()
	testtree.Build(t, filepath.Join(target, "src"), testtree.Spec{{Path: "f/keep", Data: []byte("kept")}})
	before := testtree.MustScan(t, filepath.Join(target, "src", "f"))
	if err := b.restore(t, restorer.Options{Target: target, Overwrite: restorer.OverwriteAlways}); err == nil {
		t.Error("a non-empty directory was replaced")
	}
	testtree.Unchanged(t, before, filepath.Join(target, "src", "f"))
}

// TestPlantedLinks restores into targets where links lead outside: as the
// top directory, as a directory of the snapshot, as a file; and a hard link
// to a file outside. Nothing outside may change, with or without Overwrite.
func TestPlantedLinks(t *testing.T) {
	t.Parallel()
	b := backup(t, testtree.Spec{
		{Path: "f", Data: []byte("restored f")},
		{Path: "d/f", Data: []byte("restored d/f")},
		{Path: "d/sub/x", Data: []byte("restored x")},
	})
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, s sandbox)
	}{
		{"top directory", func(t *testing.T, s sandbox) {
			must(t, os.Symlink(filepath.Join(s.outside, "dir"), filepath.Join(s.target, "src")))
		}},
		{"directory", func(t *testing.T, s sandbox) {
			must(t, os.Mkdir(filepath.Join(s.target, "src"), 0o755))
			must(t, os.Symlink(filepath.Join(s.outside, "dir"), filepath.Join(s.target, "src", "d")))
		}},
		{"relative directory", func(t *testing.T, s sandbox) {
			must(t, os.Mkdir(filepath.Join(s.target, "src"), 0o755))
			must(t, os.Symlink("../../../../../outside/dir", filepath.Join(s.target, "src", "d")))
		}},
		{"nested directory", func(t *testing.T, s sandbox) {
			must(t, os.MkdirAll(filepath.Join(s.target, "src", "d"), 0o755))
			must(t, os.Symlink(s.outside, filepath.Join(s.target, "src", "d", "sub")))
		}},
		{"file", func(t *testing.T, s sandbox) {
			must(t, os.Mkdir(filepath.Join(s.target, "src"), 0o755))
			must(t, os.Symlink(filepath.Join(s.outside, "victim"), filepath.Join(s.target, "src", "f")))
		}},
		{"hard link", func(t *testing.T, s sandbox) {
			must(t, os.Mkdir(filepath.Join(s.target, "src"), 0o755))
			must(t, os.Link(filepath.Join(s.outside, "victim"), filepath.Join(s.target, "src", "f")))
		}},
	} {
		for _, m := range modes {
			t.Run(tc.name+" "+m.name, func(t *testing.T) {
				s := newSandbox(t)
				tc.plant(t, s)
				before := s.outsideTarget(t)
				planted := testtree.MustScan(t, s.target)
				err := b.restore(t, restorer.Options{Target: s.target, Overwrite: m.mode})
				s.checkOutside(t, before)
				switch m.mode {
				case restorer.OverwriteRefuse:
					if err == nil {
						t.Error("restoring over a planted link succeeded without Overwrite")
					}
				case restorer.OverwriteNever:
					if err != nil {
						t.Errorf("restore keeping existing items: %v", err)
					}
					keptAsPlanted(t, planted, testtree.MustScan(t, s.target))
				default:
					if err != nil {
						t.Errorf("restore replacing existing items: %v", err)
					}
					testtree.Compare(t, b.src, filepath.Join(s.target, "src"))
				}
			})
		}
	}
}

// keptAsPlanted checks that every item planted is still there, unchanged
// but for the modification time of directories, which a restore may set.
func keptAsPlanted(t *testing.T, planted, after testtree.Tree) {
	t.Helper()
	for p, it := range planted {
		if it.Type == tree.Dir {
			continue
		}
		if d := testtree.Diff(testtree.Tree{p: it}, testtree.Tree{p: after[p]}); len(d) > 0 {
			t.Errorf("a planted item changed: %q", d)
		}
	}
}

// TestExistingFirstHardLink restores a hard-link group whose first path
// exists in the target, without Overwrite: that file is refused, so the rest
// of the group must not be linked to it, nor given the snapshot's metadata.
// Otherwise a planted hard link gets a file outside the target setuid.
func TestExistingFirstHardLink(t *testing.T) {
	t.Parallel()
	b := backup(t, testtree.Spec{
		{Path: "f", Data: []byte("restored f"), Mode: 0o4777, MTime: 1, Xattrs: map[string][]byte{"user.x": []byte("x")}},
		{Path: "g", Link: "f"},
	})
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, s sandbox)
	}{
		{"planted hard link", func(t *testing.T, s sandbox) {
			must(t, os.Link(filepath.Join(s.outside, "victim"), filepath.Join(s.target, "src", "f")))
		}},
		{"a file of the user", func(t *testing.T, s sandbox) {
			testtree.Build(t, filepath.Join(s.target, "src"), testtree.Spec{{Path: "f", Data: []byte("mine")}})
		}},
	} {
		for _, m := range modes {
			t.Run(tc.name+" "+m.name, func(t *testing.T) {
				s := newSandbox(t)
				must(t, os.Mkdir(filepath.Join(s.target, "src"), 0o755))
				tc.plant(t, s)
				before := s.outsideTarget(t)
				mine := testtree.MustScan(t, filepath.Join(s.target, "src"))["f"]
				err := b.restore(t, restorer.Options{Target: s.target, Overwrite: m.mode})
				if (err == nil) == (m.mode == restorer.OverwriteRefuse) {
					t.Errorf("restore over an existing file: %v", err)
				}
				s.checkOutside(t, before)
				if m.mode == restorer.OverwriteRefuse || m.mode == restorer.OverwriteNever {
					after := testtree.MustScan(t, filepath.Join(s.target, "src"))
					if d := testtree.Diff(testtree.Tree{"f": mine}, testtree.Tree{"f": after["f"]}); len(d) > 0 {
						t.Errorf("the existing file changed: %q", d)
					}
				}
			})
		}
	}
}

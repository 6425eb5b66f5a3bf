//go:build linux

package restorer_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/pattern"
	"github.com/coffer-backup/coffer/internal/restorer"
	"github.com/coffer-backup/coffer/internal/testtree"
	"github.com/coffer-backup/coffer/internal/testtree/testrepo"
	"github.com/coffer-backup/coffer/internal/tree"
)

// backedUp is a tree at src and the root tree of its snapshot, in which it
// is named "src".
type backedUp struct {
	r    *testrepo.Repo
	src  string
	root blob.ID
}

func backup(t *testing.T, spec testtree.Spec) backedUp {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	testtree.Build(t, src, spec)
	r := testrepo.New(t)
	_, res := r.Backup(t, archiver.Options{}, src)
	if len(res.Warnings) > 0 {
		t.Fatalf("backup warnings: %v", res.Warnings)
	}
	return backedUp{r, src, r.Snapshot(t, res.Snapshot).Tree}
}

func (b backedUp) restore(t *testing.T, opts restorer.Options) error {
	t.Helper()
	rs, err := b.r.Restore(t, b.root, opts)
	if err == nil && len(rs.Warnings()) > 0 {
		t.Errorf("restore warnings: %v", rs.Warnings())
	}
	return err
}

// modes are the Overwrite modes, named for subtests.
var modes = []struct {
	name string
	mode restorer.Overwrite
}{
	{"refuse", restorer.OverwriteRefuse},
	{"always", restorer.OverwriteAlways},
	{"if-changed", restorer.OverwriteIfChanged},
	{"never", restorer.OverwriteNever},
}

// includes parses patterns.
func includes(t testing.TB, texts ...string) pattern.List {
	t.Helper()
	var l pattern.List
	for _, s := range texts {
		p, err := pattern.Parse(s, pattern.Options{})
		if err != nil {
			t.Fatal(err)
		}
		l.Add(p)
	}
	return l
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// includeSpec is a tree with every directory explicit, so that a filtered
// copy has the same metadata.
var includeSpec = testtree.Spec{
	{Path: "", Type: tree.Dir, Mode: 0o751, MTime: 10},
	{Path: "a", Type: tree.Dir, Mode: 0o750, MTime: 11},
	{Path: "a/b", Type: tree.Dir, Mode: 0o710, MTime: -12},
	{Path: "a/b/f", Data: []byte("f"), Mode: 0o4755, MTime: 13},
	{Path: "a/b/g", Data: []byte("g")},
	{Path: "a/c", Data: []byte("c")},
	{Path: "d", Type: tree.Dir, Mode: 0o1777, MTime: 14},
	{Path: "d/e", Data: []byte("e, linked"), MTime: 15},
	{Path: "d/sub", Type: tree.Dir},
	{Path: "d/sub/link", Type: tree.Symlink, Target: "../../top", MTime: 16},
	{Path: "top", Data: []byte("top")},
	{Path: "a/h", Link: "d/e"},
	{Path: "d/h2", Link: "d/e"},
	{Path: "\xff dir", Type: tree.Dir},
	{Path: "\xff dir/\n", Data: []byte("odd")},
}

// filter returns the entries of spec at, above or below the include paths
// (relative to the tree root). Hard links whose target is left out become a
// copy of it and links to that copy, as a restore makes them.
func filter(spec testtree.Spec, includes []string) testtree.Spec {
	keep := func(p string) bool {
		for _, inc := range includes {
			if p == "" || p == inc || strings.HasPrefix(p, inc+"/") || strings.HasPrefix(inc, p+"/") || inc == "" {
				return true
			}
		}
		return false
	}
	byPath := map[string]testtree.Entry{}
	standIn := map[string]string{} // a link target left out -> its copy
	var out testtree.Spec
	for _, e := range spec {
		byPath[e.Path] = e
		switch {
		case !keep(e.Path):
			continue
		case e.Link == "" || keep(e.Link):
		case standIn[e.Link] != "":
			e.Link = standIn[e.Link]
		default:
			standIn[e.Link] = e.Path
			p := e.Path
			e = byPath[e.Link]
			e.Path = p
		}
		out = append(out, e)
	}
	return out
}

func TestInclude(t *testing.T) {
	t.Parallel()
	b := backup(t, includeSpec)
	for _, tc := range []struct {
		name    string
		include []string
		want    []string // paths of includeSpec, relative to src
	}{
		{"file", []string{"src/top"}, []string{"top"}},
		{"directory", []string{"src/d"}, []string{"d"}},
		{"nested file", []string{"src/a/b/f"}, []string{"a/b/f"}},
		{"nested directory", []string{"src/a/b"}, []string{"a/b"}},
		{"two paths", []string{"src/a/c", "src/d/sub"}, []string{"a/c", "d/sub"}},
		{"odd bytes", []string{"src/\xff dir/\n"}, []string{"\xff dir/\n"}},
		{"one hard link of three", []string{"src/a/h"}, []string{"a/h"}},
		{"two hard links of three", []string{"src/a", "src/d/h2"}, []string{"a", "d/h2"}},
		{"rooted and dir-only", []string{"/src/d/", "/src/top"}, []string{"d", "top"}},
		{"the root", []string{"/src"}, []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := t.TempDir()
			must(t, b.restore(t, restorer.Options{Target: target, Include: includes(t, tc.include...)}))
			want := filepath.Join(t.TempDir(), "src")
			testtree.Build(t, want, filter(includeSpec, tc.want))
			testtree.Compare(t, want, filepath.Join(target, "src"))
			if names, _ := os.ReadDir(target); len(names) != 1 {
				t.Errorf("target holds %v, want src only", names)
			}
		})
	}
}

// TestFilter checks the test's own filter, on which TestInclude relies.
func TestFilter(t *testing.T) {
	got := filter(includeSpec, []string{"a/h", "d/h2"})
	var paths []string
	for _, e := range got {
		paths = append(paths, e.Path+"->"+e.Link)
	}
	if strings.Join(paths, ",") != "->,a->,d->,a/h->,d/h2->a/h" || string(got[3].Data) != "e, linked" || got[3].MTime != 15 {
		t.Errorf("filter gave %q, %+v", paths, got[3])
	}
}

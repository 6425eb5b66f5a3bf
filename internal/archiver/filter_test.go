//go:build linux

package archiver_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/pattern"
	"github.com/coffer-backup/coffer/internal/testtree"
	"github.com/coffer-backup/coffer/internal/testtree/testrepo"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// patterns parses command-line patterns.
func patterns(t *testing.T, texts ...string) pattern.List {
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

// dryRun lists what a backup of base/proj with f would hold, as paths
// relative to base, directories ending in '/', and the warnings.
func dryRun(t *testing.T, r *testrepo.Repo, opts archiver.Options, base string) ([]string, []error) {
	t.Helper()
	var got []string
	warnings, err := archiver.New(r.Repo, opts).DryRun(t.Context(), []string{filepath.Join(base, "proj")}, func(it archiver.Item) error {
		got = append(got, relName(base, it.Path, it.Node))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, warnings
}

func relName(base, p string, n *tree.Node) string {
	p = strings.TrimPrefix(p, base+"/")
	if n.Type == tree.Dir {
		p += "/"
	}
	return p
}

// snapshotItems lists the items of a snapshot as dryRun does.
func snapshotItems(t *testing.T, r *testrepo.Repo, id blob.ID) []string {
	t.Helper()
	var got []string
	err := treewalk.Walk(t.Context(), r.Repo, treewalk.RootOf(r.Snapshot(t, id)), func(p string, n *tree.Node) error {
		got = append(got, relName("", p[1:], n))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// projTree builds base/proj from spec.
func projTree(t *testing.T, spec testtree.Spec) string {
	t.Helper()
	base := t.TempDir()
	testtree.Build(t, filepath.Join(base, "proj"), spec)
	return base
}

func checkItems(t *testing.T, what string, got, want []string) {
	t.Helper()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

var codeTree = testtree.Spec{
	{Path: "main.go"},
	{Path: "README.md"},
	{Path: "src/a.go"},
	{Path: "src/a_test.go"},
	{Path: "src/sub/b.go"},
	{Path: "src/sub/notes.txt"},
	{Path: "lib/src/c.go"},
	{Path: "build/out.o"},
	{Path: "docs/build"},
}

// TestPatterns checks the silent failures and gitignore rules as
// the backup applies them: relative to the backed-up path, and absolute
// for a pattern starting with '/'.
func TestPatterns(t *testing.T) {
	t.Parallel()
	base := projTree(t, codeTree)
	r := testrepo.New(t)
	all := []string{"proj/", "proj/main.go", "proj/README.md", "proj/src/", "proj/src/a.go", "proj/src/a_test.go",
		"proj/src/sub/", "proj/src/sub/b.go", "proj/src/sub/notes.txt", "proj/lib/", "proj/lib/src/", "proj/lib/src/c.go",
		"proj/build/", "proj/build/out.o", "proj/docs/", "proj/docs/build"}
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(p string) bool {
			return slices.ContainsFunc(drop, func(d string) bool { return p == d || strings.HasPrefix(p, d+"/") })
		})
	}
	for _, c := range []struct {
		pats []string
		want []string
	}{
		{[]string{"**/*.go"}, without("proj/main.go", "proj/src/a.go", "proj/src/a_test.go", "proj/src/sub/b.go", "proj/lib/src/c.go")},
		{[]string{"src/*"}, without("proj/src/a.go", "proj/src/a_test.go", "proj/src/sub")},
		{[]string{"src/"}, without("proj/src", "proj/lib/src")},
		{[]string{"/src"}, without("proj/src")},
		{[]string{"build/"}, without("proj/build")},
		{[]string{"build"}, without("proj/build", "proj/docs/build")},
		{[]string{"*.go", "!*_test.go"}, without("proj/main.go", "proj/src/a.go", "proj/src/sub/b.go", "proj/lib/src/c.go")},
		{[]string{"src/**/*.go"}, without("proj/src/a.go", "proj/src/a_test.go", "proj/src/sub/b.go")},
		{[]string{"src/", "!src/sub/"}, without("proj/src", "proj/lib/src")},
		{[]string{filepath.Join(base, "proj", "src", "*.go")}, without("proj/src/a.go", "proj/src/a_test.go")},
		{[]string{"*.md", "proj"}, without("proj/README.md")}, // the backed-up path itself stays
	} {
		got, warnings := dryRun(t, r, archiver.Options{Filter: archiver.Filter{Patterns: patterns(t, c.pats...)}}, base)
		if len(warnings) > 0 {
			t.Errorf("%q: warnings %v", c.pats, warnings)
		}
		checkItems(t, strings.Join(c.pats, " "), got, c.want)
	}
}

func TestFoldCase(t *testing.T) {
	t.Parallel()
	base := projTree(t, codeTree)
	p, err := pattern.Parse("readme.MD", pattern.Options{FoldCase: true})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := dryRun(t, testrepo.New(t), archiver.Options{Filter: archiver.Filter{Patterns: pattern.NewList(p)}}, base)
	if slices.Contains(got, "proj/README.md") || len(got) != 15 {
		t.Errorf("readme.MD, folding case, kept %q", got)
	}
}

// TestIgnoreFiles checks that an ignore file applies below its directory,
// a deeper one and the command line taking precedence, and that a bad
// line is a warning that leaves the other lines in force.
func TestIgnoreFiles(t *testing.T) {
	t.Parallel()
	base := projTree(t, testtree.Spec{
		{Path: ".cofferignore", Data: []byte("# logs\n*.log\n!keep.log\n/tmp/\n[bad\n")},
		{Path: "a.log"}, {Path: "keep.log"}, {Path: "secret.txt"},
		{Path: "tmp/x"},
		{Path: "sub/.cofferignore", Data: []byte("!important.log\nsecret*\n")},
		{Path: "sub/x.log"}, {Path: "sub/important.log"}, {Path: "sub/secret.txt"}, {Path: "sub/cli.log"},
		{Path: "sub/tmp/y"},
	})
	opts := archiver.Options{Filter: archiver.Filter{IgnoreFile: ".cofferignore", Patterns: patterns(t, "!cli.log")}}
	got, warnings := dryRun(t, testrepo.New(t), opts, base)
	checkItems(t, "ignore files", got, []string{"proj/", "proj/.cofferignore", "proj/keep.log", "proj/secret.txt",
		"proj/sub/", "proj/sub/.cofferignore", "proj/sub/important.log", "proj/sub/cli.log", "proj/sub/tmp/", "proj/sub/tmp/y"})
	if len(warnings) != 1 || !strings.Contains(warnings[0].Error(), filepath.Join(base, "proj", ".cofferignore")+`: line 5: pattern "[bad"`) {
		t.Errorf("warnings %v, want one for line 5", warnings)
	}
	opts.Filter.IgnoreFile = ""
	if got, _ := dryRun(t, testrepo.New(t), opts, base); len(got) != 15 {
		t.Errorf("without ignore files, %d items, want 15", len(got))
	}
}

// TestIgnoreFileNotFollowed checks that an ignore file that is a symbolic
// link or a fifo is not read, with a warning.
func TestIgnoreFileNotFollowed(t *testing.T) {
	t.Parallel()
	base := projTree(t, testtree.Spec{
		{Path: "rules", Data: []byte("*\n")},
		{Path: "a/.cofferignore", Type: tree.Symlink, Target: "../rules"},
		{Path: "a/x"},
		{Path: "b/.cofferignore", Type: tree.Fifo},
		{Path: "b/y"},
	})
	got, warnings := dryRun(t, testrepo.New(t), archiver.Options{Filter: archiver.Filter{IgnoreFile: ".cofferignore"}}, base)
	if len(got) != 8 || len(warnings) != 2 {
		t.Fatalf("items %q, warnings %v; want all 8 items and 2 warnings", got, warnings)
	}
	for _, w := range warnings {
		if !strings.HasSuffix(w.Error(), ": not applied") {
			t.Errorf("warning %q", w)
		}
	}
}

func TestExcludeCaches(t *testing.T) {
	t.Parallel()
	sig := "Signature: 8a477f597d28d172789f06886806bc55"
	base := projTree(t, testtree.Spec{
		{Path: "c1/CACHEDIR.TAG", Data: []byte(sig + "\n# This file is a cache directory tag.\n")},
		{Path: "c1/data"},
		{Path: "c2/CACHEDIR.TAG", Data: []byte("Signature: 0000")},
		{Path: "c3/CACHEDIR.TAG", Type: tree.Symlink, Target: "../c1/CACHEDIR.TAG"},
		{Path: "c4/CACHEDIR.TAG", Data: []byte(sig[:len(sig)-1])},
	})
	r := testrepo.New(t)
	got, _ := dryRun(t, r, archiver.Options{Filter: archiver.Filter{ExcludeCaches: true}}, base)
	checkItems(t, "caches", got, []string{"proj/", "proj/c2/", "proj/c2/CACHEDIR.TAG", "proj/c3/", "proj/c3/CACHEDIR.TAG",
		"proj/c4/", "proj/c4/CACHEDIR.TAG"})
	if got, _ := dryRun(t, r, archiver.Options{}, base); len(got) != 10 {
		t.Errorf("without ExcludeCaches, %d items, want 10", len(got))
	}
}

func TestIfPresentAndLargerThan(t *testing.T) {
	t.Parallel()
	base := projTree(t, testtree.Spec{
		{Path: "a/.nobackup", Type: tree.Dir},
		{Path: "a/x"},
		{Path: "b/.nobackup2"},
		{Path: "ten", Data: []byte("0123456789")},
		{Path: "eleven", Data: []byte("0123456789a")},
		{Path: "sparse", Size: 1 << 20},
	})
	f := archiver.Filter{IfPresent: []string{".nobackup", ".skip"}, LargerThan: 10}
	got, _ := dryRun(t, testrepo.New(t), archiver.Options{Filter: f}, base)
	checkItems(t, "if present, larger than", got, []string{"proj/", "proj/b/", "proj/b/.nobackup2", "proj/ten"})
}

// TestDryRunAgreesWithRun checks that a dry run lists exactly what the
// backup stores, and which files it would read.
func TestDryRunAgreesWithRun(t *testing.T) {
	t.Parallel()
	base := projTree(t, append(slices.Clone(codeTree),
		testtree.Entry{Path: ".cofferignore", Data: []byte("*.md\n")},
		testtree.Entry{Path: "src/.cofferignore", Data: []byte("!*.md\n*_test.go\n")},
		testtree.Entry{Path: "src/NOTES.md"},
		testtree.Entry{Path: "big", Data: make([]byte, 100)},
	))
	r := testrepo.New(t)
	opts := archiver.Options{Filter: archiver.Filter{Patterns: patterns(t, "build/", "!docs/build"), IgnoreFile: ".cofferignore", LargerThan: 99}}
	want, _ := dryRun(t, r, opts, base)
	a, res := r.Backup(t, opts, filepath.Join(base, "proj"))
	checkItems(t, "snapshot", snapshotItems(t, r, res.Snapshot), want)
	if sn := r.Snapshot(t, res.Snapshot); !slices.Equal(sn.Excludes, []string{"build/", "!docs/build"}) {
		t.Errorf("snapshot records excludes %q", sn.Excludes)
	}

	a.Scan(t.Context(), []string{filepath.Join(base, "proj")})
	if n := a.Stats.BytesTotal.Load(); n != 5+16 { // the ignore files; big is left out
		t.Errorf("Scan counted %d bytes, want the 21 of the ignore files", n)
	}

	if err := os.WriteFile(filepath.Join(base, "proj", "src", "a.go"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	sn := r.Snapshot(t, res.Snapshot)
	opts.Parent = &sn
	var read []string
	_, err := archiver.New(r.Repo, opts).DryRun(t.Context(), []string{filepath.Join(base, "proj")}, func(it archiver.Item) error {
		if it.Read {
			read = append(read, relName(base, it.Path, it.Node))
		}
		return nil
	})
	if err != nil || !slices.Equal(read, []string{"proj/src/a.go"}) {
		t.Errorf("with the parent, the dry run would read %q (%v), want only proj/src/a.go", read, err)
	}
}

// TestOneFileSystem backs up /dev in a dry run: a mount point below it,
// such as /dev/pts, is listed, empty.
func TestOneFileSystem(t *testing.T) {
	t.Parallel()
	mount := mountPointBelow(t, "/dev")
	r := testrepo.New(t)
	list := func(f archiver.Filter) (dir bool, inside int) {
		_, err := archiver.New(r.Repo, archiver.Options{Filter: f}).DryRun(t.Context(), []string{"/dev"}, func(it archiver.Item) error {
			dir = dir || it.Path == mount
			if strings.HasPrefix(it.Path, mount+"/") {
				inside++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return dir, inside
	}
	if dir, inside := list(archiver.Filter{OneFileSystem: true}); !dir || inside != 0 {
		t.Errorf("with OneFileSystem: %s listed %v, %d items inside; want listed and empty", mount, dir, inside)
	}
	if dir, inside := list(archiver.Filter{}); !dir || inside == 0 {
		t.Errorf("without OneFileSystem: %s listed %v, %d items inside", mount, dir, inside)
	}
}

// mountPointBelow returns a directory in dir, on another file system,
// that holds something; it skips the test if there is none.
func mountPointBelow(t *testing.T, dir string) string {
	var st, sub unix.Stat_t
	entries, err := os.ReadDir(dir)
	if err != nil || unix.Lstat(dir, &st) != nil {
		t.Skipf("%s: %v", dir, err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if !e.IsDir() || unix.Lstat(p, &sub) != nil || sub.Dev == st.Dev {
			continue
		}
		if inside, err := os.ReadDir(p); err == nil && len(inside) > 0 {
			return p
		}
	}
	t.Skipf("no mount point in %s holds anything", dir)
	return ""
}

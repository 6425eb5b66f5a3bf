//go:build linux

package restorer_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/restorer"
	"github.com/coffer-backup/coffer/internal/testtree"
	"github.com/coffer-backup/coffer/internal/tree"
)

var codeSpec = testtree.Spec{
	{Path: "main.go", Data: []byte("main")},
	{Path: "README", Data: []byte("readme")},
	{Path: "a/x.go", Data: []byte("x")},
	{Path: "a/x.txt", Data: []byte("x text")},
	{Path: "b/y.go", Data: []byte("y")},
	{Path: "b/c/z.go", Data: []byte("z")},
	{Path: "docs/only.txt", Data: []byte("doc")},
	{Path: "empty", Type: tree.Dir},
}

// restoredPaths lists what dir holds, relative to it, directories with a
// trailing '/'.
func restoredPaths(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}

// TestPatterns restores with Include and Exclude patterns: directories are
// made only on the way to what is restored, or when included.
func TestPatterns(t *testing.T) {
	t.Parallel()
	b := backup(t, codeSpec)
	for _, c := range []struct {
		include, exclude []string
		want             []string
	}{
		{[]string{"*.go"}, nil, []string{"src/", "src/main.go", "src/a/", "src/a/x.go", "src/b/", "src/b/y.go", "src/b/c/", "src/b/c/z.go"}},
		{[]string{"src/*.go"}, nil, []string{"src/", "src/main.go"}},
		{[]string{"src/**/*.go"}, []string{"c/"}, []string{"src/", "src/main.go", "src/a/", "src/a/x.go", "src/b/", "src/b/y.go"}},
		{[]string{"/src/a"}, nil, []string{"src/", "src/a/", "src/a/x.go", "src/a/x.txt"}},
		{[]string{"empty/"}, nil, []string{"src/", "src/empty/"}},
		{[]string{"a/", "*.txt"}, []string{"x.txt"}, []string{"src/", "src/a/", "src/a/x.go", "src/docs/", "src/docs/only.txt"}},
		{[]string{"*.go", "!x.go"}, []string{"b/"}, []string{"src/", "src/main.go"}},
		{nil, []string{"*.go", "docs", "empty"}, []string{"src/", "src/README", "src/a/", "src/a/x.txt", "src/b/", "src/b/c/"}},
	} {
		target := t.TempDir()
		opts := restorer.Options{Target: target, Include: includes(t, c.include...), Exclude: includes(t, c.exclude...)}
		must(t, b.restore(t, opts))
		got := restoredPaths(t, target)
		slices.Sort(got)
		slices.Sort(c.want)
		if !slices.Equal(got, c.want) {
			t.Errorf("include %q, exclude %q:\n got  %q\n want %q", c.include, c.exclude, got, c.want)
		}
	}
}

// TestPatternsRefused checks that a restore whose patterns match nothing
// fails before it writes anything.
func TestPatternsRefused(t *testing.T) {
	t.Parallel()
	b := backup(t, codeSpec)
	for _, c := range []struct {
		include, exclude []string
		want             error
		msg              string
	}{
		{[]string{"*.c"}, nil, restorer.ErrNotInSnapshot, `include pattern "*.c" matches nothing: no such path in the snapshot`},
		{[]string{"*.go", "src/nothing/*"}, nil, restorer.ErrNotInSnapshot, `include pattern "src/nothing/*" matches nothing`},
		{[]string{"/src/main.go/"}, nil, restorer.ErrNotInSnapshot, "/src/main.go/: no such path in the snapshot"},
		{[]string{"src/a/nothing"}, nil, restorer.ErrNotInSnapshot, "/src/a/nothing: no such path in the snapshot"},
		{[]string{"*.txt"}, []string{"*.txt"}, restorer.ErrNothingSelected, "select nothing"},
		{nil, []string{"src"}, restorer.ErrNothingSelected, "select nothing"},
	} {
		target := filepath.Join(t.TempDir(), "target")
		err := b.restore(t, restorer.Options{Target: target, Include: includes(t, c.include...), Exclude: includes(t, c.exclude...)})
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("include %q, exclude %q: %v; want %v saying %q", c.include, c.exclude, err, c.want, c.msg)
		}
		if got := restoredPaths(t, target); len(got) > 0 {
			t.Errorf("include %q: wrote %q", c.include, got)
		}
	}
}

// TestOverwriteModes restores over a target that holds something at every
// path of the snapshot.
func TestOverwriteModes(t *testing.T) {
	t.Parallel()
	b := backup(t, overwriteSpec)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			target := t.TempDir()
			mine := filepath.Join(target, "src")
			testtree.Build(t, mine, existing)
			before := testtree.MustScan(t, mine)
			rs, err := b.r.Restore(t, b.root, restorer.Options{Target: target, Overwrite: m.mode})
			var re *restorer.Error
			switch m.mode {
			case restorer.OverwriteRefuse:
				if !errors.As(err, &re) || re.Existing != re.Count || re.Count != 7 {
					t.Errorf("error %#v, want 7 items, all existing", err)
				}
			case restorer.OverwriteNever:
				if err != nil || rs.Stats.Kept.Load() != 7 {
					t.Errorf("error %v, %d kept; want none, 7", err, rs.Stats.Kept.Load())
				}
				keptAsPlanted(t, before, testtree.MustScan(t, mine))
			default:
				if err != nil {
					t.Fatal(err)
				}
				testtree.Compare(t, b.src, mine)
			}
		})
	}
}

// TestIfChanged restores twice into one target: the second time every
// item is kept, then only those whose size or time differ are replaced. A
// file of the same size and time is kept: content is not compared.
func TestIfChanged(t *testing.T) {
	t.Parallel()
	b := backup(t, overwriteSpec)
	target := t.TempDir()
	must(t, b.restore(t, restorer.Options{Target: target}))
	opts := restorer.Options{Target: target, Overwrite: restorer.OverwriteIfChanged}
	rs, err := b.r.Restore(t, b.root, opts)
	if err != nil || rs.Stats.Kept.Load() != 7 || rs.Stats.Files.Load() != 0 {
		t.Fatalf("second restore: %v, %d kept, %d files written; want 7 kept, none written", err, rs.Stats.Kept.Load(), rs.Stats.Files.Load())
	}
	f, g := filepath.Join(target, "src", "f"), filepath.Join(target, "src", "d", "g")
	must(t, os.WriteFile(f, []byte("snapshot F"), 0o640)) // same size
	must(t, os.Chtimes(f, time.Unix(0, 1), time.Unix(0, 1)))
	must(t, os.WriteFile(g, []byte("longer than before"), 0o644))
	rs, err = b.r.Restore(t, b.root, opts)
	if err != nil || rs.Stats.Files.Load() != 1 {
		t.Fatalf("third restore: %v, %d files written; want d/g only", err, rs.Stats.Files.Load())
	}
	if data, _ := os.ReadFile(f); string(data) != "snapshot F" {
		t.Errorf("f of the same size and time was replaced: %q", data)
	}
	if data, _ := os.ReadFile(g); string(data) != "snapshot g" {
		t.Errorf("d/g was not replaced: %q", data)
	}
}

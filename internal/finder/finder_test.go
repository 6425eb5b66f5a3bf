//go:build linux

package finder_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/testtree"
	"github.com/coffer-backup/coffer/internal/testtree/testrepo"
	"github.com/coffer-backup/coffer/internal/treewalk"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/finder"
	"github.com/coffer-backup/coffer/internal/snapshot"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		globs []string
		path  string
		want  bool
	}{
		// Without '/': the base name, at any depth.
		{[]string{"*.go"}, "/src/main.go", true},
		{[]string{"*.go"}, "/main.go", true},
		{[]string{"*.go"}, "/src/main.go/x", false},
		{[]string{"*.go"}, "/src.go/x", false},
		{[]string{"main.?o"}, "/a/main.go", true},
		{[]string{"[mn]ain.go"}, "/a/nain.go", true},
		{[]string{"src"}, "/home/src", true},
		{[]string{"src"}, "/home/src/x", false},
		{[]string{`a\*b`}, "/x/a*b", true},
		{[]string{`a\*b`}, "/x/aXb", false},
		{[]string{"*"}, "/anything", true},
		// Names are bytes: '?' and '*' match invalid UTF-8 too.
		{[]string{"?"}, "/\xff", true},
		{[]string{"a*"}, "/x/a\xff\xfe", true},
		{[]string{"a\nb"}, "/a\nb", true},
		// Starting with '/': the whole path.
		{[]string{"/src/*.go"}, "/src/main.go", true},
		{[]string{"/src/*.go"}, "/x/src/main.go", false},
		{[]string{"/src/*.go"}, "/src/sub/main.go", false},
		{[]string{"/*"}, "/top", true},
		{[]string{"/*"}, "/top/x", false},
		{[]string{"/home/"}, "/home", true},
		// With '/' elsewhere: as many last names as it has.
		{[]string{"docs/*.md"}, "/home/ann/docs/a.md", true},
		{[]string{"docs/*.md"}, "/docs/a.md", true},
		{[]string{"docs/*.md"}, "/home/ann/docs/sub/a.md", false},
		{[]string{"docs/*.md"}, "/a.md", false},
		{[]string{"*/b/*"}, "/x/a/b/c", true},
		{[]string{"*/b/*"}, "/b/c", false},
		{[]string{"docs/"}, "/home/docs", true},
		// Any of several.
		{[]string{"*.md", "*.go"}, "/a/b.go", true},
		{[]string{"*.md", "*.go"}, "/a/b.c", false},
	} {
		m, err := finder.Compile(c.globs)
		if err != nil {
			t.Fatalf("%q: %v", c.globs, err)
		}
		if got := m.Match(c.path); got != c.want {
			t.Errorf("%q on %q: %v, want %v", c.globs, c.path, got, c.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, globs := range [][]string{nil, {""}, {"[a"}, {"ok", "a\\"}} {
		if _, err := finder.Compile(globs); err == nil {
			t.Errorf("%q compiled", globs)
		}
	}
}

func TestSelect(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var snaps []snapshot.Stored
	for i, id := range []byte{0xcc, 0xaa, 0xbb} { // listed out of order
		snaps = append(snaps, snapshot.Stored{ID: blob.ID{id}, Snapshot: &snapshot.Snapshot{Time: t0.Add(time.Duration(i) * time.Hour)}})
	}
	ids := func(list []snapshot.Stored) string {
		s := ""
		for _, sn := range list {
			s += sn.ID.String()[:2] + " "
		}
		return s
	}
	for _, c := range []struct {
		refs   []string
		newest int
		want   string // or "error"
	}{
		{nil, 0, "cc aa bb "},
		{nil, 2, "aa bb "},
		{nil, 5, "cc aa bb "},
		{[]string{"aa", "cc"}, 0, "cc aa "},
		{[]string{"aa", "aa", "latest"}, 0, "aa bb "},
		{[]string{"aa", "bb", "cc"}, 1, "bb "},
		{[]string{"dd"}, 0, "error"},
		{nil, -1, "error"},
	} {
		got, err := finder.Select(snaps, c.refs, c.newest)
		s := ids(got)
		if err != nil {
			s = "error"
		}
		if s != c.want {
			t.Errorf("Select(%q, %d) = %q (%v), want %q", c.refs, c.newest, s, err, c.want)
		}
	}
}

// TestFind searches real snapshots, and stops at a hostile one before
// reporting anything of it.
func TestFind(t *testing.T) {
	r := testrepo.New(t)
	src := filepath.Join(t.TempDir(), "src")
	testtree.Build(t, src, testtree.Spec{{Path: "a.go", Data: []byte("x")}, {Path: "sub/b.go"}, {Path: "sub/c.md"}})
	_, res := r.Backup(t, archiver.Options{}, src)
	sn := r.Snapshot(t, res.Snapshot)
	m, err := finder.Compile([]string{"*.go"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	collect := func(f finder.Match) error { got = append(got, f.Type+" "+f.Path); return nil }
	rr := r.Reopen(t)
	if err := finder.Find(context.Background(), rr, []snapshot.Stored{sn}, m, collect); err != nil {
		t.Fatal(err)
	}
	if want := []string{"file /src/a.go", "file /src/sub/b.go"}; !slices.Equal(got, want) {
		t.Errorf("found %q, want %q", got, want)
	}
	got = nil
	doubling := r.DoublingSnapshot(t, 40)
	err = finder.Find(context.Background(), r.Reopen(t), []snapshot.Stored{doubling, sn}, m, collect)
	if !errors.Is(err, treewalk.ErrBudget) || len(got) != 0 {
		t.Errorf("hostile snapshot: %v, found %q", err, got)
	}
}

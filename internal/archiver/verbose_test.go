//go:build linux

package archiver_test

import (
	"maps"
	"path/filepath"
	"sync"
	"testing"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/testtree"
	"github.com/coffer-backup/coffer/internal/testtree/testrepo"
	"github.com/coffer-backup/coffer/internal/tree"
)

// TestVerbose: each regular file is reported once, as new, changed or
// unchanged against the parent; nothing else is reported.
func TestVerbose(t *testing.T) {
	const t0 = 1_600_000_000_000_000_000
	src := filepath.Join(t.TempDir(), "src")
	testtree.Build(t, src, testtree.Spec{
		{Path: "a", Data: []byte("will change"), MTime: t0},
		{Path: "sub/b", Data: []byte("stays"), MTime: t0},
		{Path: "link", Type: tree.Symlink, Target: "a"},
	})
	var mu sync.Mutex
	got := map[string]archiver.FileEvent{}
	verbose := func(p string, what archiver.FileEvent) {
		mu.Lock()
		defer mu.Unlock()
		if _, seen := got[p]; seen {
			t.Errorf("%s reported twice", p)
		}
		got[p] = what
	}
	r := testrepo.New(t)
	_, first := roundTrip(t, r, archiver.Options{Verbose: verbose}, src)
	want := map[string]archiver.FileEvent{src + "/a": archiver.FileNew, src + "/sub/b": archiver.FileNew}
	if !maps.Equal(got, want) {
		t.Errorf("first backup: %v, want %v", got, want)
	}
	write(t, src+"/a", "has changed", t0+1)
	write(t, src+"/new", "new", t0)
	clear(got)
	parent := r.Snapshot(t, first.Snapshot)
	roundTrip(t, r, archiver.Options{Verbose: verbose, Parent: &parent}, src)
	want = map[string]archiver.FileEvent{src + "/a": archiver.FileChanged, src + "/sub/b": archiver.FileUnmodified, src + "/new": archiver.FileNew}
	if !maps.Equal(got, want) {
		t.Errorf("second backup: %v, want %v", got, want)
	}
}

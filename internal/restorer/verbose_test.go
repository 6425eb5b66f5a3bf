//go:build linux

package restorer_test

import (
	"maps"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/coffer-backup/coffer/internal/restorer"
	"github.com/coffer-backup/coffer/internal/testtree"
	"github.com/coffer-backup/coffer/internal/tree"
)

// TestVerbose: every item restored is reported once, by its path in the
// target, and so is every item an overwrite mode keeps.
func TestVerbose(t *testing.T) {
	b := backup(t, testtree.Spec{
		{Path: "a", Data: []byte("a")},
		{Path: "sub/b", Data: []byte("b")},
		{Path: "hard", Link: "a"},
		{Path: "link", Type: tree.Symlink, Target: "a"},
	})
	var mu sync.Mutex
	got := map[string]restorer.Event{}
	verbose := func(rel string, what restorer.Event) {
		mu.Lock()
		defer mu.Unlock()
		if _, seen := got[rel]; seen {
			t.Errorf("%s reported twice", rel)
		}
		got[rel] = what
	}
	dst := t.TempDir()
	must(t, b.restore(t, restorer.Options{Target: dst, Verbose: verbose}))
	all := []string{"src", "src/a", "src/sub", "src/sub/b", "src/hard", "src/link"}
	want := map[string]restorer.Event{}
	for _, p := range all {
		want[p] = restorer.Restored
	}
	if !maps.Equal(got, want) {
		t.Errorf("restore: %v, want %v", got, want)
	}

	must(t, os.WriteFile(filepath.Join(dst, "src/a"), []byte("changed"), 0o644))
	for _, mode := range []restorer.Overwrite{restorer.OverwriteNever, restorer.OverwriteIfChanged} {
		clear(got)
		must(t, b.restore(t, restorer.Options{Target: dst, Verbose: verbose, Overwrite: mode}))
		if len(got) != len(all) {
			t.Errorf("overwrite %v: %v", mode, got)
		}
		for _, p := range []string{"src/sub/b", "src/link"} {
			if got[p] != restorer.Kept {
				t.Errorf("overwrite %v: %s %q, want kept", mode, p, got[p])
			}
		}
	}
	if got["src/a"] != restorer.Restored {
		t.Errorf("if-changed: a changed file was %q", got["src/a"])
	}
}

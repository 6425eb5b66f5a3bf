//go:build linux

package fsmeta

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/tree"
)

// TestHolds compares what a target holds with snapshot items by type,
// size, modification time and link target, without following links.
func TestHolds(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("12345"), 0o644)
	mtime := time.Unix(1000, 42)
	must(t, os.Chtimes(filepath.Join(dir, "f"), mtime, mtime))
	must(t, os.Symlink("f", filepath.Join(dir, "l")))
	mkdir(t, filepath.Join(dir, "d"), 0o755)
	r, err := OpenRoot(dir)
	must(t, err)
	defer r.Close()
	file := func(size uint64, mtime int64) *tree.Node {
		return &tree.Node{Type: tree.File, Size: size, MTime: mtime}
	}
	for _, c := range []struct {
		rel  string
		n    *tree.Node
		want bool
	}{
		{"f", file(5, mtime.UnixNano()), true},
		{"f", file(6, mtime.UnixNano()), false},
		{"f", file(5, mtime.UnixNano()+1), false},
		{"l", &tree.Node{Type: tree.Symlink, LinkTarget: []byte("f")}, true},
		{"l", &tree.Node{Type: tree.Symlink, LinkTarget: []byte("g")}, false},
		{"l", file(5, mtime.UnixNano()), false}, // the link, not the file it names
		{"d", &tree.Node{Type: tree.Dir}, true},
		{"d", file(0, 0), false},
		{"missing", file(0, 0), false},
		{"d/missing", file(0, 0), false},
	} {
		got, err := r.Holds(c.rel, c.n)
		if err != nil || got != c.want {
			t.Errorf("Holds(%q, %v) = %v, %v; want %v", c.rel, c.n.Type, got, err, c.want)
		}
	}
	if _, err := r.Holds("l/x", file(0, 0)); err == nil {
		t.Error("Holds looked through a symbolic link")
	}
}

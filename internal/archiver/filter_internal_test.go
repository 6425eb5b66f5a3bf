package archiver

import (
	"testing"

	"github.com/coffer-backup/coffer/internal/tree"
)

// TestOtherDevice checks OneFileSystem on items whose device differs from
// their backed-up path's, as on a mount point.
func TestOtherDevice(t *testing.T) {
	a := New(nil, Options{Filter: Filter{OneFileSystem: true}})
	sc := &scope{root: t.TempDir(), dev: 1}
	if !a.leftOut(sc, "f", sc.root+"/f", &tree.Node{Type: tree.File, Device: 2}) {
		t.Error("a file on another device is kept")
	}
	if a.leftOut(sc, "f", sc.root+"/f", &tree.Node{Type: tree.File, Device: 1}) {
		t.Error("a file on the same device is left out")
	}
	l, keep := a.openDir(sc, "", sc.root, &tree.Node{Type: tree.Dir, Device: 2}, func(err error) { t.Error(err) })
	if !keep || l.names != nil || l.inner == nil || l.dir != nil {
		t.Errorf("a directory on another device: keep %v, names %q, open %v; want kept, empty, not open", keep, l.names, l.dir != nil)
	}
	a.opts.Filter.OneFileSystem = false
	if a.leftOut(sc, "f", sc.root+"/f", &tree.Node{Type: tree.File, Device: 2}) {
		t.Error("without OneFileSystem, a file on another device is left out")
	}
}

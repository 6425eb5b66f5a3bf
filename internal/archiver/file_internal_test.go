//go:build linux

package archiver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/fsmeta"
	"github.com/coffer-backup/coffer/internal/tree"
)

// TestOpenCaptures checks a job to capture, for an entry its directory
// listed as a regular file: a file still regular is opened and captured
// from the open file; one the filter leaves out by its size is left out
// without a warning; one that is now another kind is recorded as that
// kind, read by its name, as the walker would have; a directory or an
// entry gone is left out with an error. Every job releases its hold on
// the directory, which closes with the last.
func TestOpenCaptures(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	check(t, os.WriteFile(p("file"), []byte("content"), 0o600))
	check(t, os.WriteFile(p("big"), make([]byte, 100), 0o600))
	check(t, os.Symlink("file", p("symlink")))
	check(t, os.Mkdir(p("dir"), 0o700))
	check(t, unix.Mkfifo(p("fifo"), 0o600))
	d, _, err := fsmeta.OpenDir(dir)
	check(t, err)
	from := &sharedDir{Dir: d}
	from.refs.Store(1)
	a := New(nil, Options{Filter: Filter{LargerThan: 10}})
	sc := &scope{root: dir}
	for _, tc := range []struct {
		name, err string        // err: a substring of the error, "" for none
		read      bool          // a file to read is returned
		node      tree.NodeType // the node to record; 0 for none
	}{
		{"file", "", true, tree.File},
		{"big", "", false, 0},
		{"symlink", "", false, tree.Symlink},
		{"fifo", "", false, tree.Fifo},
		{"dir", "changed while being backed up", false, 0},
		{"missing", "no such file", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from.hold()
			j := &fileJob{path: p(tc.name), name: tc.name, from: from, scope: sc, capture: true}
			f, _, err := a.open(j)
			if (f != nil) != tc.read || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("file %v, error %v; want a file %v, an error with %q", f != nil, err, tc.read, tc.err)
			}
			if f != nil {
				defer f.Close()
			}
			switch {
			case tc.node == 0 && j.node != nil:
				t.Errorf("recorded %+v, want the entry left out", j.node)
			case tc.node != 0 && (j.node == nil || j.node.Type != tc.node || string(j.node.Name) != tc.name):
				t.Errorf("recorded %+v, want a node of type %v", j.node, tc.node)
			case tc.node == tree.Symlink && string(j.node.LinkTarget) != "file":
				t.Errorf("symlink recorded with target %q", j.node.LinkTarget)
			case tc.node == tree.File && j.node.Size != 7:
				t.Errorf("file recorded with size %d", j.node.Size)
			}
			if got := from.refs.Load(); got != 1 {
				t.Errorf("%d holds on the directory after the job, want the walker's 1", got)
			}
		})
	}
	// On another file system by the filter's reckoning, a file and a symbolic
	// link are left out silently, whether opened or stated.
	a = New(nil, Options{Filter: Filter{OneFileSystem: true}})
	for _, name := range []string{"file", "symlink"} {
		from.hold()
		j := &fileJob{path: p(name), name: name, from: from, scope: &scope{root: dir, dev: ^uint64(0)}, capture: true}
		if f, _, err := a.open(j); f != nil || err != nil || j.node != nil {
			t.Errorf("%s on another device: file %v, error %v, node %+v; want it left out silently", name, f != nil, err, j.node)
		}
	}
	from.release()
	if err := d.Close(); err == nil {
		t.Error("the directory is still open after its last hold was released")
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

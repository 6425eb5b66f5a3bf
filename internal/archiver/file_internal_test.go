//go:build linux

package archiver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/fsmeta"
)

// TestOpenCaptures checks a job to capture, for an entry its directory
// listed as a regular file: a file still regular is opened and captured
// from the open file; one replaced since by a symbolic link or a
// directory, or gone, is left out with an error; one the filter leaves out
// by its size is left out without one. Every job releases its hold on the
// directory, which closes with the last.
func TestOpenCaptures(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	check(t, os.WriteFile(p("file"), []byte("content"), 0o600))
	check(t, os.WriteFile(p("big"), make([]byte, 100), 0o600))
	check(t, os.Symlink("file", p("symlink")))
	check(t, os.Mkdir(p("dir"), 0o700))
	d, _, err := fsmeta.OpenDir(dir)
	check(t, err)
	from := &sharedDir{Dir: d}
	from.refs.Store(1)
	a := New(nil, Options{Filter: Filter{LargerThan: 10}})
	sc := &scope{root: dir}
	for _, tc := range []struct {
		name, err string // err: a substring of the error, "" for none
		kept      bool
	}{
		{"file", "", true},
		{"big", "", false},
		{"symlink", "symbolic link", false},
		{"dir", "changed while being backed up", false},
		{"missing", "no such file", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from.hold()
			j := &fileJob{path: p(tc.name), name: tc.name, from: from, scope: sc, capture: true}
			f, _, kept, err := a.open(j)
			if kept != tc.kept || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("kept %v, error %v; want kept %v, error with %q", kept, err, tc.kept, tc.err)
			}
			if kept {
				defer f.Close()
				if j.node == nil || string(j.node.Name) != tc.name || j.node.Size != 7 {
					t.Errorf("captured %+v", j.node)
				}
			}
			if got := from.refs.Load(); got != 1 {
				t.Errorf("%d holds on the directory after the job, want the walker's 1", got)
			}
		})
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

//go:build linux

package archiver_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/testtree"
	"github.com/coffer-backup/coffer/internal/testtree/testrepo"
	"github.com/coffer-backup/coffer/internal/tree"
)

// backupWithParent backs up src twice, the second time with the first
// snapshot as parent after calling change, then restores the second snapshot
// and compares it with src.
func backupWithParent(t *testing.T, src string, change func()) (*testrepo.Repo, *archiver.Archiver, *archiver.Result, *archiver.Result) {
	t.Helper()
	r := testrepo.New(t)
	_, first := roundTrip(t, r, archiver.Options{}, src)
	change()
	parent := r.Snapshot(t, first.Snapshot)
	a, second := roundTrip(t, r, archiver.Options{Parent: &parent}, src)
	if sn := r.Snapshot(t, second.Snapshot); sn.Parent == nil || *sn.Parent != first.Snapshot {
		t.Errorf("snapshot parent %v, want %v", sn.Parent, first.Snapshot)
	}
	return r, a, first, second
}

// TestParentUnchanged backs up a tree twice: the second backup reads no
// file, stores nothing and yields the same root tree.
func TestParentUnchanged(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	testtree.Random(t, src, 21, testtree.Options{Privileged: true})
	r, a, first, second := backupWithParent(t, src, func() {})
	if a, b := r.Snapshot(t, first.Snapshot).Tree, r.Snapshot(t, second.Snapshot).Tree; a != b {
		t.Errorf("root tree %s, then %s", a.Short(), b.Short())
	}
	s := &a.Stats
	if s.FilesUnmodified.Load() != s.TotalFiles.Load() || s.FilesNew.Load()+s.FilesChanged.Load() != 0 {
		t.Errorf("files: %d unmodified, %d new, %d changed of %d",
			s.FilesUnmodified.Load(), s.FilesNew.Load(), s.FilesChanged.Load(), s.TotalFiles.Load())
	}
	if s.BytesRead.Load() != 0 || s.BlobsAdded.Load() != 0 {
		t.Errorf("read %d bytes and added %d blobs", s.BytesRead.Load(), s.BlobsAdded.Load())
	}
	if s.DirsNew.Load()+s.DirsChanged.Load() != 0 || s.DirsUnmodified.Load() == 0 {
		t.Errorf("dirs: %d new, %d changed, %d unmodified", s.DirsNew.Load(), s.DirsChanged.Load(), s.DirsUnmodified.Load())
	}
	if s.FilesUnmodified.Load() == 0 || s.BytesSkipped.Load() == 0 {
		t.Errorf("%d files unmodified, %d bytes skipped: the tree has no files?", s.FilesUnmodified.Load(), s.BytesSkipped.Load())
	}
	if first.Summary.TotalBytes != second.Summary.TotalBytes {
		t.Errorf("total bytes %d then %d", first.Summary.TotalBytes, second.Summary.TotalBytes)
	}
}

// TestParentChanges changes one thing between two backups and checks that
// exactly the changed files are read again and the second snapshot restores
// the tree as it now is.
func TestParentChanges(t *testing.T) {
	const t0 = 1_600_000_000_123_456_789
	spec := testtree.Spec{
		{Path: "a", Data: []byte("0123456789"), MTime: t0},
		{Path: "b", Data: []byte("unchanged"), MTime: t0},
		{Path: "sub/c", Data: []byte("unchanged too"), MTime: t0},
		{Path: "todir", Data: []byte("a file, then a directory"), MTime: t0},
		{Path: "tofile/x", Data: []byte("in a directory that becomes a file")},
		{Path: "hard", Link: "b"},
	}
	const others = 5 // files of spec but a
	// Files taken from the parent, files read, bytes read.
	type counts struct{ unmodified, read, bytes int64 }
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, src string)
		want   counts
	}{
		{"same size, new mtime", func(t *testing.T, src string) {
			write(t, src+"/a", "abcdefghij", t0+1)
		}, counts{others, 1, 10}},
		{"same mtime, new size", func(t *testing.T, src string) {
			write(t, src+"/a", "0123456789+", t0)
		}, counts{others, 1, 11}},
		{"same size and mtime, new content", func(t *testing.T, src string) {
			write(t, src+"/a", "9876543210", t0) // only the change time tells
		}, counts{others, 1, 10}},
		{"mode only", func(t *testing.T, src string) {
			must(t, os.Chmod(src+"/a", 0o600))
		}, counts{others, 1, 10}},
		{"replaced by another file", func(t *testing.T, src string) {
			must(t, os.Remove(src+"/a"))
			write(t, src+"/a", "0123456789", t0)
		}, counts{others, 1, 10}},
		{"deleted", func(t *testing.T, src string) {
			must(t, os.Remove(src+"/a"))
		}, counts{others, 0, 0}},
		{"new file", func(t *testing.T, src string) {
			write(t, src+"/sub/new", "new", t0)
		}, counts{others + 1, 1, 3}},
		{"file replaced by a directory", func(t *testing.T, src string) {
			must(t, os.Remove(src+"/todir"))
			must(t, os.Mkdir(src+"/todir", 0o755))
			write(t, src+"/todir/inner", "inner", t0)
		}, counts{others, 1, 5}},
		{"directory replaced by a file", func(t *testing.T, src string) {
			must(t, os.RemoveAll(src+"/tofile"))
			write(t, src+"/tofile", "now a file", t0)
		}, counts{others, 1, 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := filepath.Join(t.TempDir(), "src")
			testtree.Build(t, src, spec)
			_, a, _, _ := backupWithParent(t, src, func() { tc.change(t, src) })
			s := &a.Stats
			got := counts{s.FilesUnmodified.Load(), s.FilesNew.Load() + s.FilesChanged.Load(), s.BytesRead.Load()}
			if got != tc.want {
				t.Errorf("unmodified, read, bytes read: got %v, want %v", got, tc.want)
			}
		})
	}
}

// write replaces the content of p in place, keeping its inode, and sets its
// modification time.
func write(t *testing.T, p, data string, mtime int64) {
	t.Helper()
	must(t, os.WriteFile(p, []byte(data), 0o644))
	ts := unix.NsecToTimespec(mtime)
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, 0))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestParentBlobsMissing gives a backup a parent whose trees are readable but
// whose data blobs the repository lacks (they were pruned, say): unchanged
// files must be read again, not referenced.
func TestParentBlobsMissing(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	testtree.Build(t, src, testtree.Spec{{Path: "f", Data: []byte("content")}, {Path: "d/g", Data: []byte("more")}})
	other := testrepo.New(t)
	_, res := other.Backup(t, archiver.Options{}, src)

	// Copy the parent's trees into a second repository, where their IDs
	// differ, so that each directory's Subtrees must be rewritten.
	r := testrepo.New(t)
	root := copyTree(t, other, r, other.Snapshot(t, res.Snapshot).Tree)
	must(t, r.Flush(t.Context()))
	parent := snapshot.Stored{ID: blob.ID{1}, Snapshot: &snapshot.Snapshot{Tree: root}}
	if n := r.Node(t, root, "src/d/g"); len(n.Content) != 1 || r.Index.Has(n.Content[0].ID) {
		t.Fatalf("the copied parent has g as %+v", n)
	}

	a, _ := roundTrip(t, r, archiver.Options{Parent: &parent}, src)
	if got := a.Stats.FilesUnmodified.Load(); got != 0 {
		t.Errorf("%d files taken from a parent whose blobs are missing", got)
	}
	if got := a.Stats.BytesRead.Load(); got != int64(len("content")+len("more")) {
		t.Errorf("BytesRead %d", got)
	}
}

// copyTree stores the tree id of from, and every tree below it, in to, and
// returns its ID there.
func copyTree(t *testing.T, from, to *testrepo.Repo, id blob.ID) blob.ID {
	t.Helper()
	b, err := from.LoadBlob(t.Context(), blob.Tree, id, nil)
	must(t, err)
	tr, err := tree.Decode(b)
	must(t, err)
	for _, n := range tr.Nodes {
		for i, sub := range n.Subtrees {
			n.Subtrees[i] = copyTree(t, from, to, sub)
		}
	}
	b, err = tr.Encode()
	must(t, err)
	id, _, err = to.SaveBlob(t.Context(), blob.Tree, b)
	must(t, err)
	return id
}

// TestParentDeepChanges changes one entry deep in a tree in a way that
// leaves its content, size and modification time alone (an attribute, a
// permission, a new empty file): the second snapshot must record the change
// (the restore is compared with the tree), so every directory above it is
// stored anew while its unchanged siblings keep the parent's trees.
func TestParentDeepChanges(t *testing.T) {
	const t0 = 1_600_000_000_123_456_789
	spec := testtree.Spec{
		{Path: "a/b/c/f", Data: []byte("deep"), MTime: t0, Xattrs: map[string][]byte{"user.k": []byte("1")}},
		{Path: "a/b/c/g", Data: []byte("deep too"), MTime: t0},
		{Path: "a/other/h", Data: []byte("beside"), MTime: t0},
		{Path: "z/i", Data: []byte("elsewhere"), MTime: t0},
	}
	for _, tc := range []struct {
		name   string
		change func(src string) error
	}{
		{"xattr", func(src string) error { return unix.Lsetxattr(filepath.Join(src, "a/b/c/f"), "user.k", []byte("2"), 0) }},
		{"mode", func(src string) error { return os.Chmod(filepath.Join(src, "a/b/c/g"), 0o600) }},
		{"new empty file", func(src string) error { return os.WriteFile(filepath.Join(src, "a/b/c/new"), nil, 0o644) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if unix.Lsetxattr(dir, "user.probe", nil, 0) != nil {
				t.Skip("the file system takes no user attributes")
			}
			src := filepath.Join(dir, "src")
			testtree.Build(t, src, spec)
			r, a, first, second := backupWithParent(t, src, func() { must(t, tc.change(src)) })
			if x, y := r.Snapshot(t, first.Snapshot).Tree, r.Snapshot(t, second.Snapshot).Tree; x == y {
				t.Errorf("root tree %s both times", x.Short())
			}
			// Changed: src, a, a/b, a/b/c. Unchanged: a/other, z.
			if c, u := a.Stats.DirsChanged.Load(), a.Stats.DirsUnmodified.Load(); c != 4 || u != 2 {
				t.Errorf("dirs: %d changed, %d unmodified; want 4 and 2", c, u)
			}
		})
	}
}

//go:build linux

package fsmeta

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/tree"
)

// hostile are relative paths a snapshot might hold that must never be
// created: each would escape the root, or name it, or is malformed.
var hostile = []string{
	"", ".", "..", "../x", "../../x", "a/../../x", "a/..", "/x", "/etc/passwd",
	"a//b", "a/", "./x", "x/.", "a/./b", "x\x00y", "\x00", "a/\x00/b", "//", "/",
}

// rootOps calls every Root method that takes a path on rel, with overwrite
// set, and returns what each returned.
func rootOps(r *Root, rel, other string) map[string]error {
	fileNode := &tree.Node{Type: tree.File, Mode: 0o777, MTime: 0, UID: 1, GID: 1}
	errs := map[string]error{
		"mkdir":   r.Mkdir(rel, true),
		"symlink": r.Symlink([]byte("/etc/passwd"), rel, true),
		"mknod":   r.Mknod(rel, &tree.Node{Type: tree.Fifo}, true),
		"link":    r.Link(other, rel, true),
		"link to": r.Link(rel, other+".new", true),
	}
	f, err := r.CreateFile(rel, true)
	if err == nil {
		f.Write([]byte("pwned"))
		f.Close()
	}
	errs["create"] = err
	_, errs["apply"] = r.Apply(rel, fileNode, ApplyOptions{})
	_, errs["holds"] = r.Holds(rel, fileNode)
	return errs
}

// TestRootRejectsInvalidPaths checks that no method accepts a hostile path
// and that nothing at all changes, inside the root or out.
func TestRootRejectsInvalidPaths(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "target")
	mkdir(t, target, 0o755)
	mkdir(t, filepath.Join(target, "a"), 0o755)
	writeFile(t, filepath.Join(target, "x"), []byte("inside"), 0o644)
	writeFile(t, filepath.Join(base, "x"), []byte("outside"), 0o644)
	r, err := OpenRoot(target)
	must(t, err)
	defer r.Close()
	before := snapshot(t, base)
	for _, rel := range hostile {
		for op, err := range rootOps(r, rel, "x") {
			if !errors.Is(err, ErrInvalidPath) {
				t.Errorf("%s %q: got %v, want ErrInvalidPath", op, rel, err)
			}
		}
	}
	checkUnchanged(t, before, snapshot(t, base), false)
}

// FuzzCheckRel checks that checkRel accepts exactly the relative paths that
// are clean, local, not "." and free of NUL bytes.
func FuzzCheckRel(f *testing.F) {
	for _, rel := range append(hostile, "a", "a/b", "..a", "a..", "\xff\xfe", "a\nb", "...") {
		f.Add(rel)
	}
	f.Fuzz(func(t *testing.T, rel string) {
		safe := filepath.IsLocal(rel) && filepath.Clean(rel) == rel && rel != "." && !strings.Contains(rel, "\x00")
		if err := checkRel(rel); (err == nil) != safe {
			t.Errorf("checkRel(%q) = %v, want accepted %v", rel, err, safe)
		}
	})
}

// plant makes a restore target holding what an attacker could have put
// there beforehand: symbolic links to a directory and a file outside, a hard
// link to the outside file, a fifo, and a device when run as root. It returns
// the base directory, holding target and outside.
func plant(t *testing.T) (baseDir, target, outside string) {
	baseDir = t.TempDir()
	target, outside = filepath.Join(baseDir, "target"), filepath.Join(baseDir, "outside")
	mkdir(t, target, 0o755)
	mkdir(t, outside, 0o755)
	secret := filepath.Join(outside, "secret")
	writeFile(t, secret, []byte("keep"), 0o600)
	must(t, os.Symlink(outside, filepath.Join(target, "dirlink")))
	must(t, os.Symlink("../outside", filepath.Join(target, "rellink")))
	must(t, os.Symlink(secret, filepath.Join(target, "filelink")))
	must(t, os.Link(secret, filepath.Join(target, "hardlink")))
	must(t, unix.Mkfifo(filepath.Join(target, "fifo"), 0o666))
	writeFile(t, filepath.Join(target, "ok"), []byte("ok"), 0o644)
	if os.Geteuid() == 0 {
		must(t, unix.Mknod(filepath.Join(target, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	}
	return baseDir, target, outside
}

// TestRootPlantedSymlinkParents checks that no operation goes through a
// symbolic link planted in the target as a parent directory.
func TestRootPlantedSymlinkParents(t *testing.T) {
	_, target, outside := plant(t)
	r, err := OpenRoot(target)
	must(t, err)
	defer r.Close()
	before := snapshot(t, outside)
	for _, parent := range []string{"dirlink", "rellink", "filelink"} {
		for _, rel := range []string{parent + "/secret", parent + "/new", parent + "/new/deeper"} {
			for op, err := range rootOps(r, rel, "ok") {
				if !errors.Is(err, unix.ELOOP) {
					t.Errorf("%s %q: got %v, want ELOOP", op, rel, err)
				}
			}
		}
	}
	checkUnchanged(t, before, snapshot(t, outside), false)
}

// TestRootPlantedFinalComponents checks each operation on a name the
// attacker planted: without overwrite it fails and nothing changes; with it,
// the planted thing is replaced, never written through, followed or opened.
func TestRootPlantedFinalComponents(t *testing.T) {
	planted := []string{"dirlink", "rellink", "filelink", "hardlink", "fifo", "null"}
	ops := []struct {
		name string
		do   func(r *Root, rel string, overwrite bool) error
		want uint32 // S_IFMT of what overwrite leaves
	}{
		{"create", func(r *Root, rel string, overwrite bool) error {
			f, err := r.CreateFile(rel, overwrite)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.Write([]byte("pwned"))
			return err
		}, unix.S_IFREG},
		{"mkdir", func(r *Root, rel string, overwrite bool) error { return r.Mkdir(rel, overwrite) }, unix.S_IFDIR},
		{"symlink", func(r *Root, rel string, overwrite bool) error {
			return r.Symlink([]byte("elsewhere"), rel, overwrite)
		}, unix.S_IFLNK},
		{"mknod", func(r *Root, rel string, overwrite bool) error {
			return r.Mknod(rel, &tree.Node{Type: tree.Socket}, overwrite)
		}, unix.S_IFSOCK},
		{"link", func(r *Root, rel string, overwrite bool) error { return r.Link("ok", rel, overwrite) }, unix.S_IFREG},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			baseDir, target, outside := plant(t)
			r, err := OpenRoot(target)
			must(t, err)
			defer r.Close()
			before := snapshot(t, baseDir)
			for _, rel := range planted {
				if _, err := os.Lstat(filepath.Join(target, rel)); err != nil {
					continue // no device planted when not root
				}
				if err := op.do(r, rel, false); !errors.Is(err, unix.EEXIST) {
					t.Errorf("%q without overwrite: got %v, want EEXIST", rel, err)
				}
			}
			checkUnchanged(t, before, snapshot(t, baseDir), false)
			before = snapshot(t, outside)
			for _, rel := range planted {
				if _, err := os.Lstat(filepath.Join(target, rel)); err != nil {
					continue
				}
				must(t, op.do(r, rel, true))
				var st unix.Stat_t
				must(t, unix.Lstat(filepath.Join(target, rel), &st))
				if st.Mode&unix.S_IFMT != op.want {
					t.Errorf("%q: mode %#o after overwrite, want type %#o", rel, st.Mode, op.want)
				}
			}
			checkUnchanged(t, before, snapshot(t, outside), true)
		})
	}
}

// TestRootReplace checks what overwrite may and may not remove.
func TestRootReplace(t *testing.T) {
	r, err := OpenRoot(t.TempDir())
	must(t, err)
	defer r.Close()
	must(t, r.Mkdir("full", false))
	f, err := r.CreateFile("full/f", false)
	must(t, err)
	must(t, f.Close())
	must(t, r.Mkdir("empty", false))
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"mkdir on an existing dir", r.Mkdir("full", false), nil},
		{"mkdir on an existing file", r.Mkdir("full/f", false), unix.EEXIST},
		{"mkdir replacing a file", r.Mkdir("full/f", true), nil},
		{"symlink replacing a non-empty dir", r.Symlink([]byte("x"), "full", true), unix.ENOTEMPTY},
		{"symlink replacing an empty dir", r.Symlink([]byte("x"), "empty", true), nil},
		{"create in a missing dir", func() error { _, err := r.CreateFile("none/f", true); return err }(), unix.ENOENT},
		{"empty symlink target", r.Symlink(nil, "s", false), unix.ENOENT},
		{"symlink target with NUL", r.Symlink([]byte("a\x00b"), "s", false), unix.EINVAL},
		{"mknod of a file", r.Mknod("m", &tree.Node{Type: tree.File}, false), nil},
		{"link to a missing file", r.Link("none", "l", false), unix.ENOENT},
	}
	for _, tc := range tests {
		switch {
		case tc.name == "mknod of a file":
			if tc.err == nil {
				t.Errorf("%s: accepted", tc.name)
			}
		case !errors.Is(tc.err, tc.want) || (tc.want == nil) != (tc.err == nil):
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}

// TestApplyRefusesOtherTypes checks that Apply never gives a planted file
// the metadata of a different kind of node, and sets a planted symbolic
// link's own time, not its target's.
func TestApplyRefusesOtherTypes(t *testing.T) {
	_, target, outside := plant(t)
	r, err := OpenRoot(target)
	must(t, err)
	defer r.Close()
	before := snapshot(t, outside)
	for _, tc := range []struct {
		rel string
		typ tree.NodeType
	}{
		{"filelink", tree.File}, {"dirlink", tree.Dir}, {"fifo", tree.File}, {"ok", tree.Symlink}, {"ok", tree.Dir},
	} {
		_, err := r.Apply(tc.rel, &tree.Node{Type: tc.typ, Mode: 0o777}, ApplyOptions{})
		if !errors.Is(err, ErrTypeMismatch) {
			t.Errorf("apply %s to %q: got %v, want ErrTypeMismatch", tc.typ, tc.rel, err)
		}
	}
	_, err = r.Apply("filelink", &tree.Node{Type: tree.Symlink, MTime: base, UID: 0}, ApplyOptions{NumericOwner: true})
	must(t, err)
	if n := stat(t, filepath.Join(target, "filelink")); n.MTime != base {
		t.Errorf("symlink mtime %d, want %d", n.MTime, base)
	}
	checkUnchanged(t, before, snapshot(t, outside), false)
}

// TestReopenFile reopens a file CreateFile made, and refuses whatever
// replaced it since: a hard link to a file outside, a second name, a
// fifo (without blocking on it), a symbolic link. (Another file with one
// name may get the freed inode number and pass: writing to it changes
// nothing outside the root.)
func TestReopenFile(t *testing.T) {
	_, target, outside := plant(t)
	r, err := OpenRoot(target)
	must(t, err)
	defer r.Close()
	create := func(rel string) FileID {
		f, err := r.CreateFile(rel, false)
		must(t, err)
		id, err := StatFile(f)
		must(t, err)
		must(t, f.Close())
		return id
	}
	id := create("mine")
	f, err := r.ReopenFile("mine", id)
	must(t, err)
	_, err = f.WriteAt([]byte("written"), 0)
	must(t, err)
	must(t, f.Close())
	if b, _ := os.ReadFile(filepath.Join(target, "mine")); string(b) != "written" {
		t.Errorf("the reopened file holds %q", b)
	}
	secret := filepath.Join(outside, "secret")
	for name, replace := range map[string]func(p string){
		"hard link outside": func(p string) { must(t, os.Remove(p)); must(t, os.Link(secret, p)) },
		"second name":       func(p string) { must(t, os.Link(p, p+".2")) },
		"fifo":              func(p string) { must(t, os.Remove(p)); must(t, unix.Mkfifo(p, 0o666)) },
		"symlink":           func(p string) { must(t, os.Remove(p)); must(t, os.Symlink(secret, p)) },
	} {
		name = "r-" + name
		id := create(name)
		replace(filepath.Join(target, name))
		f, err := r.ReopenFile(name, id)
		if err == nil {
			f.Close()
			t.Errorf("%s: reopened", name)
		} else if name != "r-symlink" && !errors.Is(err, ErrReplaced) {
			t.Errorf("%s: %v, want ErrReplaced", name, err)
		}
	}
	if b, _ := os.ReadFile(secret); string(b) != "keep" {
		t.Errorf("the file outside holds %q", b)
	}
}

// TestDirCacheForgets replaces, with overwrite, a directory the Root has
// cached by a file and that file by a new directory: what is created in
// the directory's name afterwards must land in the new directory, not in
// the removed one.
func TestDirCacheForgets(t *testing.T) {
	target := t.TempDir()
	r, err := OpenRoot(target)
	must(t, err)
	defer r.Close()
	must(t, r.Mkdir("a", false))
	f, err := r.CreateFile("a/x", false) // caches "a"
	must(t, err)
	must(t, f.Close())
	must(t, r.Remove("a/x"))
	f, err = r.CreateFile("a", true) // replaces the empty directory
	must(t, err)
	must(t, f.Close())
	must(t, r.Mkdir("a", true)) // replaces the file
	f, err = r.CreateFile("a/y", false)
	must(t, err)
	must(t, f.Close())
	if _, err := os.Stat(filepath.Join(target, "a", "y")); err != nil {
		t.Errorf("a/y is not in the new directory: %v", err)
	}
	if len(r.dirs.dirs) > maxDirs() {
		t.Errorf("%d directories cached", len(r.dirs.dirs))
	}
}

// TestDirLimit checks the bound on cached directory descriptors against
// the process's limit on open descriptors.
func TestDirLimit(t *testing.T) {
	for _, c := range []struct {
		nofile uint64
		want   int
	}{{0, 64}, {256, 64}, {1024, 128}, {4096, 512}, {20000, 1024}, {1 << 40, 1024}} {
		if got := dirLimit(c.nofile); got != c.want {
			t.Errorf("dirLimit(%d) = %d, want %d", c.nofile, got, c.want)
		}
	}
}

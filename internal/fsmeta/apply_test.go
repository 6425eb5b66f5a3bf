//go:build linux

package fsmeta

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/tree"
)

// TestApplyXattrFailures checks which refused attributes are warnings and
// which are errors.
func TestApplyXattrFailures(t *testing.T) {
	dir := t.TempDir()
	needXattr(t, dir, "user.probe")
	r, err := OpenRoot(dir)
	must(t, err)
	defer r.Close()
	must(t, r.Mknod("fifo", &tree.Node{Type: tree.Fifo}, false))
	f, err := r.CreateFile("file", false)
	must(t, err)
	must(t, f.Close())
	tests := []struct {
		name     string
		rel      string
		n        tree.Node
		warnings int
		err      error
	}{
		{"unknown namespace", "file", tree.Node{Type: tree.File, Xattrs: []tree.Xattr{
			{Name: "coffer.unknown", Value: []byte("x")}, {Name: "user.kept", Value: []byte("y")},
		}}, 1, nil},
		{"user attribute on a fifo", "fifo", tree.Node{Type: tree.Fifo, Xattrs: []tree.Xattr{
			{Name: "user.x", Value: []byte("x")},
		}}, 0, unix.EPERM},
		{"name with NUL", "file", tree.Node{Type: tree.File, Xattrs: []tree.Xattr{
			{Name: "user.a\x00b", Value: []byte("x")},
		}}, 0, unix.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.n.UID, tc.n.GID, tc.n.Mode = uint32(os.Geteuid()), uint32(os.Getegid()), 0o600
			warnings, err := r.Apply(tc.rel, &tc.n, ApplyOptions{NumericOwner: true})
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("got error %v, want %v", err, tc.err)
			}
			if len(warnings) != tc.warnings {
				t.Fatalf("got warnings %v, want %d", warnings, tc.warnings)
			}
			for _, w := range warnings {
				if !errors.Is(w, ErrNotRestored) || !errors.Is(w, unix.ENOTSUP) {
					t.Errorf("warning %v does not wrap ErrNotRestored and ENOTSUP", w)
				}
			}
		})
	}
	if n := stat(t, filepath.Join(dir, "file")); len(n.Xattrs) != 1 || n.Xattrs[0].Name != "user.kept" {
		t.Errorf("attributes after a skipped one: %+v", n.Xattrs)
	}
}

// TestApplyOwnerNames checks that owners are mapped by name unless
// NumericOwner is set.
func TestApplyOwnerNames(t *testing.T) {
	u, err := user.Current()
	must(t, err)
	g, err := user.LookupGroupId(strconv.Itoa(os.Getegid()))
	must(t, err)
	dir := t.TempDir()
	r, err := OpenRoot(dir)
	must(t, err)
	defer r.Close()
	f, err := r.CreateFile("f", false)
	must(t, err)
	must(t, f.Close())
	n := &tree.Node{Type: tree.File, Mode: 0o640, UID: 54321, GID: 54322, User: u.Username, Group: g.Name}
	tests := []struct {
		name     string
		opts     ApplyOptions
		uid, gid uint32
	}{
		{"by name", ApplyOptions{}, uint32(os.Geteuid()), uint32(os.Getegid())},
		{"numeric", ApplyOptions{NumericOwner: true}, 54321, 54322},
	}
	for _, tc := range tests {
		warnings, err := r.Apply("f", n, tc.opts)
		must(t, err)
		got := stat(t, filepath.Join(dir, "f"))
		switch {
		case os.Geteuid() != 0 && tc.opts.NumericOwner:
			if len(warnings) != 1 || !errors.Is(warnings[0], ErrNotRestored) {
				t.Errorf("%s: warnings %v, want one ErrNotRestored", tc.name, warnings)
			}
		case len(warnings) != 0 || got.UID != tc.uid || got.GID != tc.gid:
			t.Errorf("%s: owner %d:%d, warnings %v; want %d:%d", tc.name, got.UID, got.GID, warnings, tc.uid, tc.gid)
		}
	}
}

// TestApplyUnprivileged checks, as a user other than root, that the owner is
// set only when the process may, and the rest of the metadata regardless.
func TestApplyUnprivileged(t *testing.T) {
	dir := t.TempDir()
	chmod(t, dir, 0o777)
	r, err := OpenRoot(dir)
	must(t, err)
	defer r.Close()
	unprivileged(t, func(uid, gid uint32) {
		f, err := r.CreateFile("f", false)
		if err != nil {
			t.Error(err)
			return
		}
		f.Close()
		tests := []struct {
			name     string
			uid, gid uint32
			warn     bool
		}{
			{"own ids", uid, gid, false},
			{"other user", uid + 1, gid, true},
			{"other group", uid, gid + 1, true},
		}
		for _, tc := range tests {
			n := &tree.Node{Type: tree.File, UID: tc.uid, GID: tc.gid, Mode: 0o4750, MTime: base}
			warnings, err := r.Apply("f", n, ApplyOptions{NumericOwner: true})
			if err != nil || (len(warnings) == 1) != tc.warn || (tc.warn && !errors.Is(warnings[0], ErrNotRestored)) {
				t.Errorf("%s: warnings %v, error %v", tc.name, warnings, err)
			}
			var st unix.Stat_t // through the root: nobody cannot search the temporary directory's parents
			if err := unix.Fstatat(r.fd, "f", &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Uid != uid || st.Gid != gid ||
				st.Mode&0o7777 != 0o4750 || st.Mtim.Nano() != base {
				t.Errorf("%s: got uid %d gid %d mode %#o mtime %d, %v", tc.name, st.Uid, st.Gid, st.Mode&0o7777, st.Mtim.Nano(), err)
			}
		}
	})
}

// TestMknodNeedsPrivilege checks that creating a device without the
// privilege to fails with ErrNeedsPrivilege, while fifos and sockets work.
func TestMknodNeedsPrivilege(t *testing.T) {
	dir := t.TempDir()
	chmod(t, dir, 0o777)
	r, err := OpenRoot(dir)
	must(t, err)
	defer r.Close()
	unprivileged(t, func(uint32, uint32) {
		tests := []struct {
			n    tree.Node
			want error
		}{
			{tree.Node{Type: tree.CharDev, Rdev: unix.Mkdev(1, 3)}, ErrNeedsPrivilege},
			{tree.Node{Type: tree.BlockDev, Rdev: unix.Mkdev(7, 0)}, ErrNeedsPrivilege},
			{tree.Node{Type: tree.Fifo}, nil},
			{tree.Node{Type: tree.Socket}, nil},
		}
		for _, tc := range tests {
			err := r.Mknod(tc.n.Type.String(), &tc.n, false)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("%s: got %v, want %v", tc.n.Type, err, tc.want)
			}
		}
	})
}

// TestApplyForeignPlatformMeta checks that Linux restores a node another
// platform recorded (birth time, flags, a Windows security descriptor) with
// everything Linux has, and one warning per field it cannot set, through
// both Apply and ApplyFile.
func TestApplyForeignPlatformMeta(t *testing.T) {
	r, err := OpenRoot(t.TempDir())
	must(t, err)
	defer r.Close()
	btime, flags := int64(base-7), uint32(0x8000)
	n := &tree.Node{Type: tree.File, UID: uint32(os.Geteuid()), GID: uint32(os.Getegid()), Mode: 0o640, MTime: base,
		Xattrs: withMeta(nil, platformMeta{birthTime: &btime, flags: &flags, winSD: []byte{1}})}
	for _, viaFile := range []bool{false, true} {
		f, err := r.CreateFile("f", true)
		must(t, err)
		var warnings []error
		if viaFile {
			warnings, err = r.ApplyFile(f, "f", n, ApplyOptions{NumericOwner: true})
		} else {
			warnings, err = r.Apply("f", n, ApplyOptions{NumericOwner: true})
		}
		f.Close()
		if err != nil || len(warnings) != 3 {
			t.Fatalf("ApplyFile %v: warnings %v, error %v; want 3 warnings", viaFile, warnings, err)
		}
		for _, w := range warnings {
			if !errors.Is(w, ErrNotRestored) {
				t.Errorf("warning %v does not wrap ErrNotRestored", w)
			}
		}
		var st unix.Stat_t
		if err := unix.Fstatat(r.fd, "f", &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&0o7777 != 0o640 || st.Mtim.Nano() != base {
			t.Errorf("ApplyFile %v: mode %#o mtime %d, %v", viaFile, st.Mode&0o7777, st.Mtim.Nano(), err)
		}
	}
}

package fsmeta

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/tree"
)

// Apply gives rel, which must already exist with n's type, the metadata n
// records, in this order: owner, extended attributes, permission bits (not
// for symbolic links), then modification time, with the access time set to
// it. The owner comes first because changing it clears setuid and setgid bits
// and the security.capability attribute.
//
// The owner is set only when the process is root, or when it is the recorded
// user and a member of the recorded group; otherwise, or when the kernel
// refuses the IDs, that is a warning. So is an attribute outside "user."
// refused with EPERM or ENOTSUP. Each warning wraps ErrNotRestored; anything
// else that fails is the error. A directory must be applied after its
// children are restored, or their creation changes its modification time.
// Apply changes whatever non-symbolic-link file is at rel: call it only on
// what this Root created, since a file planted in the target may be a hard
// link to one outside.
func (r *Root) Apply(rel string, n *tree.Node, opts ApplyOptions) (warnings []error, err error) {
	if err := checkRel(rel); err != nil {
		return nil, r.fail("apply", rel, err)
	}
	if n.Type == tree.Dir { // a directory's handle is likely cached: its children were just made
		d, err := r.dirs.get(rel, func() (int, error) { return r.open(rel, unix.O_DIRECTORY) })
		if err == nil {
			defer r.dirs.put(d)
			warnings, err = apply(d.fd, n, opts)
			return r.applied(rel, warnings, err)
		} // else as any other type, for the same errors
	}
	fd, err := r.open(rel, unix.O_NOFOLLOW)
	if err != nil {
		return nil, r.fail("apply", rel, err)
	}
	defer unix.Close(fd)
	warnings, err = apply(fd, n, opts)
	return r.applied(rel, warnings, err)
}

// applied wraps the outcome of apply for rel.
func (r *Root) applied(rel string, warnings []error, err error) ([]error, error) {
	for i, w := range warnings {
		warnings[i] = r.fail("apply", rel, w)
	}
	return warnings, r.fail("apply", rel, err)
}

// apply gives the file fd, an O_PATH descriptor, the metadata of n.
// Platform metadata (another system's birth time, flags, Windows
// attributes) is not applied, with a warning each.
func apply(fd int, n *tree.Node, opts ApplyOptions) (warnings []error, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("fstat: %w", err)
	}
	if t := nodeType(st.Mode); t != n.Type {
		return nil, fmt.Errorf("%w: found a %s, want a %s", ErrTypeMismatch, t, n.Type)
	}
	real, meta, warnings := splitMeta(n.Xattrs)
	warnings = append(warnings, meta.unsupported()...)
	if w, err := chown(chownFD(fd), n, opts); err != nil {
		return nil, err
	} else if w != nil {
		warnings = append(warnings, w)
	}
	// The kernel has no call that sets attributes or mode through an O_PATH
	// descriptor before Linux 6.13 and 6.6, but /proc/self/fd/N leads to the
	// very file fd refers to, without following it if it is a symbolic link.
	proc := "/proc/self/fd/" + strconv.Itoa(fd)
	ws, err := setXattrs(func(name string, value []byte) error { return unix.Setxattr(proc, name, value, 0) }, real)
	warnings = append(warnings, ws...)
	if err != nil {
		return warnings, err
	}
	if n.Type != tree.Symlink {
		if err := unix.Chmod(proc, n.Mode&0o7777); err != nil {
			return warnings, fmt.Errorf("chmod: %w", err)
		}
	}
	mtime := unix.NsecToTimespec(n.MTime)
	if err := unix.UtimesNanoAt(fd, "", []unix.Timespec{mtime, mtime}, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return warnings, fmt.Errorf("set times: %w", err)
	}
	return warnings, nil
}

// chownFD returns chown's setter for fd, an O_PATH or open descriptor,
// which is not followed if it is a symbolic link.
func chownFD(fd int) func(uid, gid int) error {
	return func(uid, gid int) error {
		return unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
	}
}

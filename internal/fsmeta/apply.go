package fsmeta

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/tree"
)

// ApplyOptions tunes how Apply restores metadata.
type ApplyOptions struct {
	// NumericOwner restores the recorded UID and GID as they are. Otherwise,
	// as tar does, a recorded user or group name that exists on this system
	// is restored as this system's ID for it.
	NumericOwner bool
}

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
	fd, err := r.open(rel, unix.O_NOFOLLOW)
	if err != nil {
		return nil, r.fail("apply", rel, err)
	}
	defer unix.Close(fd)
	warnings, err = apply(fd, n, opts)
	for i, w := range warnings {
		warnings[i] = r.fail("apply", rel, w)
	}
	return warnings, r.fail("apply", rel, err)
}

// apply gives the file fd, an O_PATH descriptor, the metadata of n.
func apply(fd int, n *tree.Node, opts ApplyOptions) (warnings []error, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("fstat: %w", err)
	}
	if t := nodeType(st.Mode); t != n.Type {
		return nil, fmt.Errorf("%w: found a %s, want a %s", ErrTypeMismatch, t, n.Type)
	}
	if w, err := chown(fd, n, opts); err != nil {
		return nil, err
	} else if w != nil {
		warnings = append(warnings, w)
	}
	// The kernel has no call that sets attributes or mode through an O_PATH
	// descriptor before Linux 6.13 and 6.6, but /proc/self/fd/N leads to the
	// very file fd refers to, without following it if it is a symbolic link.
	proc := "/proc/self/fd/" + strconv.Itoa(fd)
	ws, err := setXattrs(func(name string, value []byte) error { return unix.Setxattr(proc, name, value, 0) }, n.Xattrs)
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

// chown sets the owner of fd to n's, mapped by name unless opts.NumericOwner,
// when the process may. It returns a warning when it may not or the kernel
// refuses the IDs (EPERM, or EINVAL for IDs a user namespace cannot map).
func chown(fd int, n *tree.Node, opts ApplyOptions) (warning, err error) {
	uid, gid := n.UID, n.GID
	if !opts.NumericOwner {
		if u := userIDs.get(n.User); u.ok {
			uid = u.id
		}
		if g := groupIDs.get(n.Group); g.ok {
			gid = g.id
		}
	}
	if !mayChown(uid, gid) {
		return fmt.Errorf("%w: owner %d:%d needs root", ErrNotRestored, uid, gid), nil
	}
	err = unix.Fchownat(fd, "", int(uid), int(gid), unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EINVAL):
		return fmt.Errorf("%w: owner %d:%d: %w", ErrNotRestored, uid, gid, err), nil
	case err != nil:
		return nil, fmt.Errorf("chown: %w", err)
	}
	return nil, nil
}

// supplementaryGroups returns the process's supplementary group IDs.
var supplementaryGroups = sync.OnceValue(func() []int {
	groups, _ := os.Getgroups() // none if unknown: only root then sets owners
	return groups
})

// mayChown reports whether the process may give a file owner uid and group
// gid: root may, and so may user uid for a group it belongs to.
func mayChown(uid, gid uint32) bool {
	euid := os.Geteuid()
	if euid == 0 {
		return true
	}
	return uint32(euid) == uid &&
		(uint32(os.Getegid()) == gid || slices.Contains(supplementaryGroups(), int(gid)))
}

//go:build linux || darwin || freebsd

package fsmeta

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/tree"
)

// chown sets the owner of a file with set (fchownat or fchown) to n's, mapped by name unless opts.NumericOwner,
// when the process may. It returns a warning when it may not or the kernel
// refuses the IDs (EPERM, or EINVAL for IDs a user namespace cannot map).
func chown(set func(uid, gid int) error, n *tree.Node, opts ApplyOptions) (warning, err error) {
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
	err = set(int(uid), int(gid))
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

// effectiveIDs returns the process's effective user and group IDs, asked
// of the kernel once: Coffer never changes them, and a restore would
// otherwise ask once per item.
var effectiveIDs = sync.OnceValues(func() (uid, gid int) {
	return os.Geteuid(), os.Getegid()
})

// mayChown reports whether the process may give a file owner uid and group
// gid: root may, and so may user uid for a group it belongs to.
func mayChown(uid, gid uint32) bool {
	euid, egid := effectiveIDs()
	if euid == 0 {
		return true
	}
	return uint32(euid) == uid &&
		(uint32(egid) == gid || slices.Contains(supplementaryGroups(), int(gid)))
}

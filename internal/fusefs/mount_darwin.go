package fusefs

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// macFUSEMounters are the mount helpers go-fuse runs on macOS, of macFUSE
// and of its predecessor OSXFUSE.
var macFUSEMounters = []string{
	"/Library/Filesystems/macfuse.fs/Contents/Resources/mount_macfuse",
	"/Library/Filesystems/osxfuse.fs/Contents/Resources/mount_osxfuse",
}

// available fails, wrapping ErrNoFuse, if macFUSE is not installed.
func available() error {
	for _, p := range macFUSEMounters {
		if _, err := os.Stat(p); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%w: macFUSE not found (install it from macfuse.github.io)", ErrNoFuse)
}

// detach unmounts dir by force (unmount(2) with MNT_FORCE): macOS has no
// lazy unmount, so processes still inside get errors at once.
func detach(dir string) error {
	return unix.Unmount(dir, unix.MNT_FORCE)
}

// errNoXattr is the error for an extended attribute a file does not have (ENOATTR).
const errNoXattr = syscall.ENOATTR

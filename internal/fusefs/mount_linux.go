package fusefs

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// available fails, wrapping ErrNoFuse, if /dev/fuse is missing or neither
// a direct mount (as root) nor fusermount3 can mount.
func available() error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("%w: %w", ErrNoFuse, err)
	}
	if os.Geteuid() == 0 {
		return nil
	}
	for _, bin := range []string{"fusermount3", "fusermount"} {
		if _, err := exec.LookPath(bin); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%w: fusermount3 not found (install fuse3)", ErrNoFuse)
}

// detach unmounts dir lazily: with umount2(MNT_DETACH) as root, else with
// fusermount3 -u -z.
func detach(dir string) error {
	if os.Geteuid() == 0 {
		return unix.Unmount(dir, unix.MNT_DETACH)
	}
	bin := "fusermount3"
	if _, err := exec.LookPath(bin); err != nil {
		bin = "fusermount"
	}
	if out, err := exec.Command(bin, "-u", "-z", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", bin, err, out)
	}
	return nil
}

// errNoXattr is the error for an extended attribute a file does not have (ENODATA).
const errNoXattr = syscall.ENODATA

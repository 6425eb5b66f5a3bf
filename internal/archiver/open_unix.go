//go:build linux || darwin || freebsd

package archiver

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// openFile opens path for reading without following a symbolic link
// (errSymlink), blocking on a fifo or, on Linux where the process may,
// updating its access time.
func openFile(path string) (*os.File, error) {
	const flags = os.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	fd, err := unix.Open(path, flags|oNoAtime, 0)
	if err == unix.EPERM && oNoAtime != 0 {
		fd, err = unix.Open(path, flags, 0)
	}
	// O_NOFOLLOW fails with ELOOP, or EMLINK on FreeBSD (open(2)).
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EMLINK) {
		return nil, errSymlink
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// regularIno returns the inode of f and whether it is a regular file.
func regularIno(f *os.File) (uint64, bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, false, err
	}
	return st.Ino, st.Mode&unix.S_IFMT == unix.S_IFREG, nil
}

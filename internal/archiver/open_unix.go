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

// openedFile is what a backup checks of a file it opened.
type openedFile struct {
	ino     uint64
	regular bool
	// dense is set when the file has as many bytes allocated as its size,
	// so it has no hole worth looking for (file systems that compress or
	// inline data allocate fewer and are scanned).
	dense bool
}

// statOpened returns the identity, type and allocation of f.
func statOpened(f *os.File) (openedFile, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return openedFile{}, err
	}
	return openedFile{
		ino:     st.Ino,
		regular: st.Mode&unix.S_IFMT == unix.S_IFREG,
		dense:   st.Blocks*512 >= st.Size,
	}, nil
}

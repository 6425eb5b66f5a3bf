//go:build linux || darwin || freebsd

package archiver

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// openFile opens path for reading without following a symbolic link
// (errSymlink), blocking on a fifo or, on Linux where the process may,
// updating its access time.
func openFile(path string) (sourceFile, error) { return openAt(nil, path, path) }

// openAt is openFile for the entry name of d, at path, opened relative to
// d so that the kernel does not resolve the directory's path again; with d
// nil, path is opened.
func openAt(d *sharedDir, name, path string) (sourceFile, error) {
	dfd := unix.AT_FDCWD
	if d != nil {
		dfd = d.Fd()
	} else {
		name = path
	}
	// O_NOCTTY: a device node in the file's place (a race, or a file system
	// misreporting a type) never becomes the controlling terminal.
	const flags = os.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	fd, err := unix.Openat(dfd, name, flags|oNoAtime, 0)
	if err == unix.EPERM && oNoAtime != 0 {
		fd, err = unix.Openat(dfd, name, flags, 0)
	}
	// O_NOFOLLOW fails with ELOOP, or EMLINK on FreeBSD (open(2)).
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EMLINK) {
		return nil, errSymlink
	}
	if err != nil {
		return nil, err
	}
	return &rawFile{fd: fd, name: path}, nil
}

// rawFile is a file read by its descriptor alone. Unlike an os.File it
// costs no fcntl and no attempt to register with the poller when opened
// (two system calls per file, a quarter of a first backup's per-file
// calls); regular files never wait in the poller anyway.
type rawFile struct {
	fd   int
	name string
}

// ReadAt reads len(p) bytes at off, or fewer and io.EOF at the end.
func (f *rawFile) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		k, err := unix.Pread(f.fd, p[n:], off+int64(n))
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return n, &os.PathError{Op: "read", Path: f.name, Err: err}
		case k == 0:
			return n, io.EOF
		}
		n += k
	}
	return n, nil
}

func (f *rawFile) Close() error { return unix.Close(f.fd) }
func (f *rawFile) Fd() uintptr  { return uintptr(f.fd) }
func (f *rawFile) Name() string { return f.name }

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
func statOpened(f sourceFile) (openedFile, error) {
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

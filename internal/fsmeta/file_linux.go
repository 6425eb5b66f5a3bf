package fsmeta

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/tree"
)

// ReopenFile opens for writing again the regular file rel that CreateFile
// made, whose identity was id. It resolves rel as every path below the
// Root is (no symbolic link followed) and first opens it with O_PATH, so a
// fifo or device planted there in the meantime is never opened; it then
// refuses, with an error wrapping ErrReplaced, anything but a regular file
// with identity id and a single name, so it never writes through a hard
// link to a file outside the Root. (A file put there in the meantime may
// pass if it got the freed inode number; it then has one name, below the
// Root, so writing to it changes nothing outside.)
func (r *Root) ReopenFile(rel string, id FileID) (*os.File, error) {
	if err := checkRel(rel); err != nil {
		return nil, r.fail("reopen", rel, err)
	}
	pfd, err := r.open(rel, unix.O_NOFOLLOW)
	if err != nil {
		return nil, r.fail("reopen", rel, err)
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, r.fail("reopen", rel, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 || (FileID{uint64(st.Dev), st.Ino}) != id {
		return nil, r.fail("reopen", rel, ErrReplaced)
	}
	// /proc/self/fd/N reopens the very inode pfd refers to.
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(pfd), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, r.fail("reopen", rel, err)
	}
	return os.NewFile(uintptr(fd), filepath.Join(r.dir, rel)), nil
}

// ApplyFile is Apply for a regular file open for writing, rel's file: the
// metadata is set through the descriptor (fchown, fsetxattr, fchmod,
// futimens), in Apply's order and with its warnings, without resolving
// the path again.
func (r *Root) ApplyFile(f *os.File, rel string, n *tree.Node, opts ApplyOptions) (warnings []error, err error) {
	fd := int(f.Fd())
	if n.Type != tree.File {
		return nil, r.fail("apply", rel, fmt.Errorf("%w: found a file, want a %s", ErrTypeMismatch, n.Type))
	}
	real, meta, ws := splitMeta(n.Xattrs)
	for _, w := range append(ws, meta.unsupported()...) {
		warnings = append(warnings, r.fail("apply", rel, w))
	}
	if w, err := chown(chownFD(fd), n, opts); err != nil {
		return nil, r.fail("apply", rel, err)
	} else if w != nil {
		warnings = append(warnings, r.fail("apply", rel, w))
	}
	ws, err = setXattrs(func(name string, value []byte) error { return unix.Fsetxattr(fd, name, value, 0) }, real)
	for _, w := range ws {
		warnings = append(warnings, r.fail("apply", rel, w))
	}
	if err != nil {
		return warnings, r.fail("apply", rel, err)
	}
	if err := unix.Fchmod(fd, n.Mode&0o7777); err != nil {
		return warnings, r.fail("apply", rel, fmt.Errorf("chmod: %w", err))
	}
	mtime := unix.NsecToTimespec(n.MTime)
	if err := unix.UtimesNanoAt(fd, "", []unix.Timespec{mtime, mtime}, unix.AT_EMPTY_PATH); err != nil {
		return warnings, r.fail("apply", rel, fmt.Errorf("set times: %w", err))
	}
	return warnings, nil
}

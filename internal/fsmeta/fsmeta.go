// Package fsmeta captures and applies the file-system metadata of files for
// backup and restore. On Linux it records every file type, permission bits
// with setuid, setgid and sticky, numeric and named owners, nanosecond
// modification times, extended attributes, hard-link identity and the data
// ranges of sparse files; macOS and FreeBSD add file flags and birth time,
// Windows file attributes and security descriptors (docs/format.md §5.0 lists
// what is and is not recorded on each).
//
// Capture never follows a symbolic link. Restore goes through a Root, which
// never creates, opens or changes anything outside its directory, whatever
// names a snapshot holds and whatever symbolic links exist in the target.
package fsmeta

import (
	"errors"
	"fmt"
	"strings"

	"github.com/coffer-backup/coffer/internal/tree"
)

// Errors a Root returns; test them with errors.Is.
var (
	// ErrInvalidPath is returned for a relative path that is empty, absolute,
	// or has a component that is empty, ".", ".." or holds a NUL byte.
	ErrInvalidPath = errors.New("invalid relative path")
	// ErrNeedsPrivilege is returned when creating a device node is refused
	// because the process is not root (lacks CAP_MKNOD).
	ErrNeedsPrivilege = errors.New("creating device nodes needs root (CAP_MKNOD)")
	// ErrTypeMismatch is returned by Apply when the file found is not of the
	// node's type.
	ErrTypeMismatch = errors.New("file type differs from the snapshot's")
	// ErrNotRestored wraps each warning of Apply: metadata that was skipped.
	ErrNotRestored = errors.New("metadata not restored")
	// ErrNotRecorded wraps each warning of StatWarn: something the file has
	// that the backup leaves out.
	ErrNotRecorded = errors.New("not backed up")
	// ErrReplaced is returned by ReopenFile when the file at the path is not
	// the one this restore created there.
	ErrReplaced = errors.New("file replaced since it was created")
)

// ApplyOptions tunes how Apply restores metadata.
type ApplyOptions struct {
	// NumericOwner restores the recorded UID and GID as they are. Otherwise,
	// as tar does, a recorded user or group name that exists on this system
	// is restored as this system's ID for it.
	NumericOwner bool
}

// FileID identifies a file by device and inode (on Windows, by volume
// serial number and file index).
type FileID struct{ Dev, Ino uint64 }

// Range is a run of Len bytes of a file's data starting at offset Off.
type Range struct{ Off, Len int64 }

// Unchanged reports whether cur, just captured, describes the same content as
// old, captured by an earlier backup: same type, size, modification and status
// change times, inode and device. A backup may then reuse old's content
// instead of reading the file again. A nil node is never unchanged.
func Unchanged(old, cur *tree.Node) bool {
	return old != nil && cur != nil &&
		old.Type == cur.Type && old.Size == cur.Size &&
		old.MTime == cur.MTime && old.CTime == cur.CTime &&
		old.Inode == cur.Inode && old.Device == cur.Device
}

// checkRel returns ErrInvalidPath unless every '/'-separated component of rel
// is a plain name: on Windows, also without any of reservedChars.
func checkRel(rel string) error {
	for c := range strings.SplitSeq(rel, "/") {
		if c == "" || c == "." || c == ".." || strings.IndexByte(c, 0) >= 0 || strings.ContainsAny(c, reservedChars) {
			return ErrInvalidPath
		}
	}
	return nil
}

// fail wraps a non-nil err with the operation and the path.
func (r *Root) fail(op, rel string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("fsmeta: %s %q in %q: %w", op, rel, r.dir, err)
}

// Stat returns the metadata of path, which is never followed if it is a
// symbolic link, as a Node without content. Name is the last element of path
// (filepath.Base), so a caller capturing a root such as "/" names it itself.
// Size is set for regular files, Rdev for devices, LinkTarget for symbolic
// links; Inode, Device and Links for all. Xattrs holds every attribute the
// caller may read, sorted by name, and the platform's metadata (platform.go).
// User and Group are the names of UID and GID on this system, empty when
// unknown; they are looked up once per ID. What the file has that is left
// out is not reported: StatWarn reports it.
func Stat(path string) (*tree.Node, error) {
	n, _, err := capture(path)
	return n, err
}

// StatWarn is Stat, and also returns, as warnings wrapping ErrNotRecorded,
// what path has that the backup leaves out: on Windows, alternate data
// streams; on macOS, attributes larger than the format allows. On Linux and
// FreeBSD it never warns.
func StatWarn(path string) (*tree.Node, []error, error) {
	return capture(path)
}

// File is an open file, as DataRanges needs it: *os.File is one.
type File interface {
	Fd() uintptr
	Name() string
}

// Package tree defines the file-system metadata Coffer records for every
// item of a snapshot, and the deterministic binary encoding of directory
// listings (tree blobs, docs/format.md §5).
package tree

import (
	"github.com/coffer-backup/coffer/internal/blob"
)

// NodeType is the kind of a file-system item. Its value is part of the
// format.
type NodeType uint8

// Node types.
const (
	File     NodeType = 1
	Dir      NodeType = 2
	Symlink  NodeType = 3
	Fifo     NodeType = 4
	CharDev  NodeType = 5
	BlockDev NodeType = 6
	Socket   NodeType = 7
)

func (t NodeType) String() string {
	switch t {
	case File:
		return "file"
	case Dir:
		return "dir"
	case Symlink:
		return "symlink"
	case Fifo:
		return "fifo"
	case CharDev:
		return "chardev"
	case BlockDev:
		return "blockdev"
	case Socket:
		return "socket"
	}
	return "unknown"
}

// Valid reports whether t is a known node type.
func (t NodeType) Valid() bool { return t >= File && t <= Socket }

// Xattr is one extended attribute.
type Xattr struct {
	Name  string
	Value []byte
}

// Extent is one piece of a file's content, in order: either a data blob of
// Length bytes (ID non-zero) or a hole of Length bytes (ID zero) that is
// neither stored nor written on restore.
type Extent struct {
	ID     blob.ID
	Length uint64
}

// IsHole reports whether the extent is a hole.
func (e Extent) IsHole() bool { return e.ID.IsZero() }

// Node is one item of a directory, with everything needed to restore it
// faithfully.
type Node struct {
	Name  []byte   // arbitrary bytes; never empty, ".", "..", nor containing '/' or NUL
	Type  NodeType //
	Mode  uint32   // permission bits with setuid, setgid and sticky (mask 07777)
	UID   uint32
	GID   uint32
	User  string // owner name at backup time, if known
	Group string // group name at backup time, if known
	MTime int64  // modification time, nanoseconds since the Unix epoch
	CTime int64  // status change time, nanoseconds; used only to detect changes
	Size  uint64 // logical size of a regular file, holes included

	// Inode, Device and Links identify hard links: regular files with
	// Links > 1 sharing Device and Inode are restored as one file.
	Inode  uint64
	Device uint64
	Links  uint64

	Rdev       uint64  // device number of character and block devices
	LinkTarget []byte  // target of a symlink, never followed
	Xattrs     []Xattr // sorted by name
	Content    []Extent
	Subtrees   []blob.ID // tree blobs listing a directory's children, in order
}

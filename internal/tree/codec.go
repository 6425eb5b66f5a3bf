package tree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/coffer-backup/coffer/internal/blob"
)

// Tree blob plaintext (docs/format.md §5):
//
//	magic "CTR1" || uvarint count || count × node
//
// with every node encoded as the fields of Node in declaration order:
// byte strings as uvarint length || bytes, unsigned integers as uvarints,
// times as zig-zag varints, lists as uvarint count || items. All varints are
// minimal. Nodes are sorted by Name, byte-wise, without duplicates.
const magic = "CTR1"

// Limits that bound what a decoder will allocate (docs/format.md §5.2).
const (
	MaxTreeSize = 32 << 20 // largest tree blob plaintext
	// MaxNameLen is the longest entry name: Linux's NAME_MAX, the most any
	// of its file systems stores, so no honest backup holds a longer one.
	MaxNameLen   = 255
	MaxFieldLen  = 4096 // longest user, group, link target and xattr name
	MaxXattrs    = 4096
	MaxXattrSize = 64 << 10
)

// Tree is one tree blob: a contiguous, sorted run of a directory's entries.
type Tree struct {
	Nodes []*Node
}

// ErrCorrupt is wrapped by every decoding error.
var ErrCorrupt = errors.New("corrupt tree")

// Encode returns the canonical encoding of the tree. Nodes must already be
// valid and sorted; Encode checks it.
func (t *Tree) Encode() ([]byte, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 64+len(t.Nodes)*96)
	b = append(b, magic...)
	b = binary.AppendUvarint(b, uint64(len(t.Nodes)))
	for _, n := range t.Nodes {
		b = n.append(b)
	}
	if len(b) > MaxTreeSize {
		return nil, fmt.Errorf("tree of %d entries encodes to %d bytes, over the %d-byte limit", len(t.Nodes), len(b), MaxTreeSize)
	}
	return b, nil
}

// EncodedSize returns the number of bytes n adds to a tree's encoding, so
// callers can split large directories across several tree blobs.
func (n *Node) EncodedSize() int { return len(n.append(nil)) }

// SameEncoding reports whether a and b add the same bytes to a tree's
// encoding: whether a tree holding one would be stored as the same blob
// as the tree holding the other in its place.
func SameEncoding(a, b *Node) bool {
	var sa, sb [512]byte
	return bytes.Equal(a.append(sa[:0]), b.append(sb[:0]))
}

func (t *Tree) check() error {
	for i, n := range t.Nodes {
		if err := n.Validate(); err != nil {
			return err
		}
		if i > 0 && bytes.Compare(t.Nodes[i-1].Name, n.Name) >= 0 {
			return fmt.Errorf("entries %q and %q are not in strictly increasing order: %w", t.Nodes[i-1].Name, n.Name, ErrCorrupt)
		}
	}
	return nil
}

// Sort orders the nodes by name, as Encode requires.
func (t *Tree) Sort() {
	slices.SortFunc(t.Nodes, func(a, b *Node) int { return bytes.Compare(a.Name, b.Name) })
}

// ValidName reports whether name may name a directory entry: 1 to
// MaxNameLen bytes, not "." or "..", without '/' or NUL (docs/format.md
// §5.2).
func ValidName(name []byte) bool {
	if len(name) == 0 || len(name) > MaxNameLen || string(name) == "." || string(name) == ".." {
		return false
	}
	return bytes.IndexByte(name, '/') < 0 && bytes.IndexByte(name, 0) < 0
}

// Validate checks the invariants every stored node satisfies
// (docs/format.md §5.2), so that nothing decoded from a repository can steer
// a restore outside its target or list one subtree twice in a directory.
func (n *Node) Validate() error {
	if !ValidName(n.Name) {
		return fmt.Errorf("invalid entry name %q: %w", n.Name, ErrCorrupt)
	}
	if !n.Type.Valid() {
		return fmt.Errorf("entry %q: unknown type %d: %w", n.Name, n.Type, ErrCorrupt)
	}
	if n.Mode&^07777 != 0 {
		return fmt.Errorf("entry %q: mode %o has bits outside 07777: %w", n.Name, n.Mode, ErrCorrupt)
	}
	if n.Type != File && (len(n.Content) > 0 || n.Size != 0) {
		return fmt.Errorf("entry %q: only files have content: %w", n.Name, ErrCorrupt)
	}
	if n.Type != Dir && len(n.Subtrees) > 0 {
		return fmt.Errorf("entry %q: only directories have subtrees: %w", n.Name, ErrCorrupt)
	}
	if !distinct(n.Subtrees) {
		return fmt.Errorf("entry %q: lists a subtree twice: %w", n.Name, ErrCorrupt)
	}
	if n.Type != Symlink && len(n.LinkTarget) > 0 {
		return fmt.Errorf("entry %q: only symlinks have a target: %w", n.Name, ErrCorrupt)
	}
	var total uint64
	for _, e := range n.Content {
		if e.Length == 0 || total+e.Length < total {
			return fmt.Errorf("entry %q: invalid extent length: %w", n.Name, ErrCorrupt)
		}
		total += e.Length
	}
	if total != n.Size {
		return fmt.Errorf("entry %q: extents add up to %d bytes, size is %d: %w", n.Name, total, n.Size, ErrCorrupt)
	}
	if len(n.LinkTarget) > MaxFieldLen || len(n.User) > MaxFieldLen || len(n.Group) > MaxFieldLen || len(n.Xattrs) > MaxXattrs {
		return fmt.Errorf("entry %q: a link target, owner name or xattr list exceeds its limit: %w", n.Name, ErrCorrupt)
	}
	for i, x := range n.Xattrs {
		if x.Name == "" || len(x.Name) > MaxFieldLen || len(x.Value) > MaxXattrSize || (i > 0 && n.Xattrs[i-1].Name >= x.Name) {
			return fmt.Errorf("entry %q: xattrs not valid and sorted: %w", n.Name, ErrCorrupt)
		}
	}
	return nil
}

// distinct reports whether no ID repeats in ids. A directory's tree blobs
// hold disjoint runs of its entries (docs/format.md §5.2, §5.4), so an honest
// writer never lists one twice; a repeated one would double the listing.
func distinct(ids []blob.ID) bool {
	if len(ids) < 2 {
		return true
	}
	sorted := slices.Clone(ids)
	slices.SortFunc(sorted, func(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) })
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return false
		}
	}
	return true
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (n *Node) append(b []byte) []byte {
	b = appendBytes(b, n.Name)
	b = append(b, byte(n.Type))
	for _, v := range []uint64{uint64(n.Mode), uint64(n.UID), uint64(n.GID)} {
		b = binary.AppendUvarint(b, v)
	}
	b = appendBytes(b, []byte(n.User))
	b = appendBytes(b, []byte(n.Group))
	b = binary.AppendVarint(b, n.MTime)
	b = binary.AppendVarint(b, n.CTime)
	for _, v := range []uint64{n.Size, n.Inode, n.Device, n.Links, n.Rdev} {
		b = binary.AppendUvarint(b, v)
	}
	b = appendBytes(b, n.LinkTarget)
	b = binary.AppendUvarint(b, uint64(len(n.Xattrs)))
	for _, x := range n.Xattrs {
		b = appendBytes(b, []byte(x.Name))
		b = appendBytes(b, x.Value)
	}
	b = binary.AppendUvarint(b, uint64(len(n.Content)))
	for _, e := range n.Content {
		b = append(b, e.ID[:]...)
		b = binary.AppendUvarint(b, e.Length)
	}
	b = binary.AppendUvarint(b, uint64(len(n.Subtrees)))
	for _, id := range n.Subtrees {
		b = append(b, id[:]...)
	}
	return b
}

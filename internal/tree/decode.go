package tree

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/coffer-backup/coffer/internal/blob"
)

// Decode parses a tree blob plaintext. It accepts only the canonical
// encoding Encode produces, and bounds every allocation by the input size.
func Decode(b []byte) (*Tree, error) {
	if len(b) > MaxTreeSize {
		return nil, fmt.Errorf("tree of %d bytes exceeds the limit: %w", len(b), ErrCorrupt)
	}
	if len(b) < len(magic) || string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("bad magic: %w", ErrCorrupt)
	}
	d := decoder{b: b[len(magic):]}
	count := d.count(8) // a node takes at least 8 bytes
	t := &Tree{Nodes: make([]*Node, 0, count)}
	for i := 0; i < count && d.err == nil; i++ {
		t.Nodes = append(t.Nodes, d.node())
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes: %w", len(d.b), ErrCorrupt)
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	return t, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("truncated or malformed %s: %w", what, ErrCorrupt)
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != len(binary.AppendUvarint(nil, v)) {
		d.fail("unsigned integer")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 || n != len(binary.AppendVarint(nil, v)) {
		d.fail("signed integer")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u32() uint32 {
	v := d.uvarint()
	if v > math.MaxUint32 {
		d.fail("32-bit integer")
	}
	return uint32(v)
}

// count reads a list length and checks that the remaining input can hold
// that many items of at least min bytes each.
func (d *decoder) count(min int) int {
	v := d.uvarint()
	if v > uint64(len(d.b)/min) {
		d.fail("list length")
		return 0
	}
	return int(v)
}

// bytes reads a byte string of at most limit bytes, the field what.
func (d *decoder) bytes(what string, limit int) []byte {
	n := d.uvarint()
	if d.err == nil && n > uint64(limit) {
		d.err = fmt.Errorf("%s of %d bytes exceeds the limit of %d (docs/format.md §5.2): %w", what, n, limit, ErrCorrupt)
	}
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	if n == 0 {
		return nil
	}
	return append([]byte(nil), s...)
}

func (d *decoder) id() blob.ID {
	var id blob.ID
	if d.err != nil || len(d.b) < blob.IDSize {
		d.fail("ID")
		return id
	}
	copy(id[:], d.b)
	d.b = d.b[blob.IDSize:]
	return id
}

func (d *decoder) node() *Node {
	n := &Node{Name: d.bytes("entry name", MaxNameLen)}
	if d.err != nil || len(d.b) < 1 {
		d.fail("node")
		return n
	}
	n.Type = NodeType(d.b[0])
	d.b = d.b[1:]
	n.Mode, n.UID, n.GID = d.u32(), d.u32(), d.u32()
	n.User, n.Group = string(d.bytes("user name", MaxFieldLen)), string(d.bytes("group name", MaxFieldLen))
	n.MTime, n.CTime = d.varint(), d.varint()
	n.Size, n.Inode, n.Device, n.Links, n.Rdev = d.uvarint(), d.uvarint(), d.uvarint(), d.uvarint(), d.uvarint()
	n.LinkTarget = d.bytes("link target", MaxFieldLen)
	if nx := d.count(2); nx > 0 {
		if nx > MaxXattrs {
			d.fail("xattr list")
			return n
		}
		n.Xattrs = make([]Xattr, nx)
		for i := range n.Xattrs {
			n.Xattrs[i] = Xattr{Name: string(d.bytes("xattr name", MaxFieldLen)), Value: d.bytes("xattr value", MaxXattrSize)}
		}
	}
	if ne := d.count(blob.IDSize + 1); ne > 0 {
		n.Content = make([]Extent, ne)
		for i := range n.Content {
			n.Content[i] = Extent{ID: d.id(), Length: d.uvarint()}
		}
	}
	if ns := d.count(blob.IDSize); ns > 0 {
		n.Subtrees = make([]blob.ID, ns)
		for i := range n.Subtrees {
			n.Subtrees[i] = d.id()
		}
	}
	return n
}

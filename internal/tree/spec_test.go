package tree

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
)

var update = flag.Bool("update", false, "rewrite testdata/tree-v1.hex")

// This file holds an encoder written from docs/format.md §5 alone, sharing
// nothing with codec.go, so that the golden tree checks the code against
// the text, and so that tests can write non-canonical encodings on purpose.

// uv is the unsigned LEB128 varint of §5: seven bits per byte, least
// significant group first, high bit set on every byte but the last.
func uv(x uint64) []byte {
	var b []byte
	for x >= 0x80 {
		b = append(b, byte(x)|0x80)
		x >>= 7
	}
	return append(b, byte(x))
}

// sv is the zig-zag signed varint of §5.
func sv(x int64) []byte { return uv(uint64(x<<1) ^ uint64(x>>63)) }

// str is a length-prefixed byte string.
func str(s string) []byte { return append(uv(uint64(len(s))), s...) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// rawNode holds a node's fields already encoded, in the order of §5, so a
// test can replace any one of them with bytes of its choosing.
type rawNode struct {
	name, typ, mode, uid, gid, user, group, mtime, ctime            []byte
	size, inode, device, links, rdev, target, xattrs, content, subs []byte
}

func (r rawNode) bytes() []byte {
	return cat(r.name, r.typ, r.mode, r.uid, r.gid, r.user, r.group, r.mtime, r.ctime,
		r.size, r.inode, r.device, r.links, r.rdev, r.target, r.xattrs, r.content, r.subs)
}

// specNode encodes n field by field as §5 describes.
func specNode(n *Node) rawNode {
	r := rawNode{
		name: str(string(n.Name)), typ: []byte{byte(n.Type)},
		mode: uv(uint64(n.Mode)), uid: uv(uint64(n.UID)), gid: uv(uint64(n.GID)),
		user: str(n.User), group: str(n.Group), mtime: sv(n.MTime), ctime: sv(n.CTime),
		size: uv(n.Size), inode: uv(n.Inode), device: uv(n.Device), links: uv(n.Links), rdev: uv(n.Rdev),
		target: str(string(n.LinkTarget)),
		xattrs: uv(uint64(len(n.Xattrs))), content: uv(uint64(len(n.Content))), subs: uv(uint64(len(n.Subtrees))),
	}
	for _, x := range n.Xattrs {
		r.xattrs = cat(r.xattrs, str(x.Name), str(string(x.Value)))
	}
	for _, e := range n.Content {
		r.content = cat(r.content, e.ID[:], uv(e.Length))
	}
	for _, id := range n.Subtrees {
		r.subs = append(r.subs, id[:]...)
	}
	return r
}

// specTree encodes a tree blob from already encoded nodes.
func specTree(nodes ...[]byte) []byte {
	return cat([]byte("CTR1"), uv(uint64(len(nodes))), cat(nodes...))
}

func id(b byte) blob.ID { return blob.ID(bytes.Repeat([]byte{b}, blob.IDSize)) }

// goldenTree is the tree of testdata/tree-v1.hex (docs/format.md §5.5): one
// node of every type, with holes, xattrs, a non-UTF-8 name, a time before
// 1970 and integers of every varint width.
func goldenTree() *Tree {
	return &Tree{Nodes: []*Node{
		{Name: []byte("a-dir"), Type: Dir, Mode: 01755, UID: 1000, GID: 100, User: "alice", Group: "users",
			MTime: 1700000000123456789, CTime: 1700000000987654321, Inode: 42, Device: 0x803, Links: 3,
			Subtrees: []blob.ID{id(0x11), id(0x12)}},
		{Name: []byte("b-file"), Type: File, Mode: 04644, UID: 4294967295, GID: 0, User: "", Group: "root",
			MTime: 1, CTime: 2, Size: 300000, Inode: 7, Device: 0x803, Links: 2,
			Xattrs:  []Xattr{{Name: "security.capability", Value: []byte{1, 0, 0, 2}}, {Name: "user.empty"}},
			Content: []Extent{{ID: id(0x21), Length: 131072}, {Length: 100000}, {ID: id(0x22), Length: 68928}}},
		{Name: []byte("c-link"), Type: Symlink, Mode: 0777, MTime: -1500000000, CTime: -1, Links: 1,
			LinkTarget: []byte("../target")},
		{Name: []byte("d-tty"), Type: CharDev, Mode: 0620, GID: 5, Group: "tty", Rdev: 0x8801, Links: 1},
		{Name: []byte("e-disk"), Type: BlockDev, Mode: 0660, GID: 6, Rdev: 0x800, Links: 1},
		{Name: []byte("f-fifo"), Type: Fifo, Mode: 0600, Links: 1},
		{Name: []byte("g-socket"), Type: Socket, Mode: 0755, Links: 1},
		{Name: []byte("h-sparse"), Type: File, Mode: 0600, Size: 1 << 40, Links: 1,
			Content: []Extent{{Length: 1<<40 - 1}, {ID: id(0x23), Length: 1}}},
		{Name: []byte("\xff\xfe not utf-8"), Type: File, Mode: 0, Links: 1},
	}}
}

// normalize makes empty slices nil, as Decode returns them, except the
// list of nodes, which Decode always allocates.
func normalize(t *Tree) *Tree {
	if t.Nodes == nil {
		t.Nodes = []*Node{}
	}
	for _, n := range t.Nodes {
		if len(n.LinkTarget) == 0 {
			n.LinkTarget = nil
		}
		for i := range n.Xattrs {
			if len(n.Xattrs[i].Value) == 0 {
				n.Xattrs[i].Value = nil
			}
		}
		if len(n.Xattrs) == 0 {
			n.Xattrs = nil
		}
		if len(n.Content) == 0 {
			n.Content = nil
		}
		if len(n.Subtrees) == 0 {
			n.Subtrees = nil
		}
	}
	return t
}

func readGolden(t *testing.T) []byte {
	t.Helper()
	h, err := os.ReadFile("testdata/tree-v1.hex")
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.Join(strings.Fields(string(h)), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGolden checks Encode, Decode and the spec encoder of this file
// against testdata/tree-v1.hex.
func TestGolden(t *testing.T) {
	tr := goldenTree()
	enc, err := tr.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		var s strings.Builder
		for h := hex.EncodeToString(enc); len(h) > 0; h = h[min(64, len(h)):] {
			s.WriteString(h[:min(64, len(h))] + "\n")
		}
		if err := os.WriteFile("testdata/tree-v1.hex", []byte(s.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden := readGolden(t)
	if !bytes.Equal(enc, golden) {
		t.Errorf("Encode differs from the golden tree:\n got %x\nwant %x", enc, golden)
	}
	var nodes [][]byte
	for _, n := range tr.Nodes {
		nodes = append(nodes, specNode(n).bytes())
	}
	if spec := specTree(nodes...); !bytes.Equal(spec, golden) {
		t.Errorf("the spec encoder differs from the golden tree:\n got %x\nwant %x", spec, golden)
	}
	dec, err := Decode(golden)
	if err != nil {
		t.Fatal(err)
	}
	if want := normalize(goldenTree()); !reflect.DeepEqual(dec, want) {
		t.Errorf("Decode gives %+v, want %+v", dec, want)
	}
}

// TestSmallExample pins the annotated example of docs/format.md §5.5.
func TestSmallExample(t *testing.T) {
	tr := &Tree{Nodes: []*Node{{Name: []byte("hi.txt"), Type: File, Mode: 0644, UID: 1000, GID: 1000,
		User: "me", MTime: -1, CTime: 1000, Size: 5, Inode: 300, Links: 1,
		Content: []Extent{{ID: id(0xaa), Length: 5}}}}}
	enc, err := tr.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := "43545231" + "01" + // magic, one node
		"06" + hex.EncodeToString([]byte("hi.txt")) + "01" + // name, type file
		"a403" + "e807" + "e807" + // mode 0644, uid 1000, gid 1000
		"02" + hex.EncodeToString([]byte("me")) + "00" + // user "me", group ""
		"01" + "d00f" + // mtime -1, ctime 1000
		"05" + "ac02" + "00" + "01" + "00" + // size 5, inode 300, device 0, links 1, rdev 0
		"00" + "00" + // no link target, no xattrs
		"01" + strings.Repeat("aa", 32) + "05" + // one extent of 5 bytes
		"00" // no subtrees
	if got := hex.EncodeToString(enc); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// idb is id(b) as a byte slice.
func idb(b byte) []byte { x := id(b); return x[:] }

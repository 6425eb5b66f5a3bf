package tree

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
)

func fileNode(name string) *Node {
	return &Node{Name: []byte(name), Type: File, Mode: 0644, Links: 1, Size: 3, Content: []Extent{{ID: id(1), Length: 3}}}
}

func mustEncode(t testing.TB, tr *Tree) []byte {
	t.Helper()
	b, err := tr.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	many := &Tree{}
	for i := range 1000 {
		many.Nodes = append(many.Nodes, fileNode(fmt.Sprintf("file-%04d", i)))
	}
	for _, c := range []struct {
		name string
		tr   *Tree
	}{
		{"empty", &Tree{}},
		{"golden", goldenTree()},
		{"one file", &Tree{Nodes: []*Node{fileNode("x")}}},
		{"extremes", &Tree{Nodes: []*Node{{
			Name: bytes.Repeat([]byte{'n'}, MaxNameLen), Type: File, Mode: 07777,
			UID: math.MaxUint32, GID: math.MaxUint32, MTime: math.MinInt64, CTime: math.MaxInt64,
			Size: math.MaxUint64, Inode: math.MaxUint64, Device: math.MaxUint64, Links: math.MaxUint64,
			Xattrs:  []Xattr{{Name: "a", Value: bytes.Repeat([]byte{1}, MaxXattrSize)}},
			Content: []Extent{{Length: math.MaxUint64 - 1}, {ID: id(9), Length: 1}},
		}}}},
		{"a thousand files", many},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := mustEncode(t, c.tr)
			d, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d, normalize(c.tr)) {
				t.Fatal("decoded tree differs")
			}
			if again := mustEncode(t, d); !bytes.Equal(again, b) {
				t.Fatal("re-encoding differs")
			}
			size := len("CTR1") + len(uv(uint64(len(c.tr.Nodes))))
			for _, n := range c.tr.Nodes {
				size += n.EncodedSize()
			}
			if size != len(b) {
				t.Fatalf("EncodedSize adds up to %d, encoding is %d bytes", size, len(b))
			}
		})
	}
}

func TestSort(t *testing.T) {
	tr := &Tree{Nodes: []*Node{fileNode("b"), fileNode("\xff"), fileNode("B"), fileNode("a"), fileNode("ab")}}
	if _, err := tr.Encode(); err == nil {
		t.Fatal("Encode accepted unsorted nodes")
	}
	tr.Sort()
	var names []string
	for _, n := range tr.Nodes {
		names = append(names, string(n.Name))
	}
	if want := []string{"B", "a", "ab", "b", "\xff"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("sorted %q, want %q", names, want)
	}
	mustEncode(t, tr)
}

// TestDecodeRejects lists encodings that break one rule of §5 each. Every
// one is built from the spec encoder with one field replaced.
func TestDecodeRejects(t *testing.T) {
	ok := specNode(fileNode("ok"))
	dir := specNode(&Node{Name: []byte("d"), Type: Dir, Mode: 0755, Subtrees: []blob.ID{id(5)}})
	with := func(f func(r *rawNode)) []byte {
		r := ok
		f(&r)
		return specTree(r.bytes())
	}
	withDir := func(f func(r *rawNode)) []byte {
		r := dir
		f(&r)
		return specTree(r.bytes())
	}
	xattrs := func(xs ...[]byte) []byte { return cat(uv(uint64(len(xs)/2)), cat(xs...)) }
	extents := func(es ...[]byte) []byte { return cat(uv(uint64(len(es)/2)), cat(es...)) }
	valid := specTree(ok.bytes())
	if _, err := Decode(valid); err != nil {
		t.Fatalf("base case: %v", err)
	}
	if _, err := Decode(specTree(dir.bytes())); err != nil {
		t.Fatalf("base case dir: %v", err)
	}
	cases := []struct {
		name string
		b    []byte
	}{
		{"empty input", nil},
		{"magic only, no count", []byte("CTR1")},
		{"short magic", []byte("CTR")},
		{"other magic", append([]byte("CTR2"), valid[4:]...)},
		{"lower-case magic", append([]byte("ctr1"), valid[4:]...)},
		{"trailing byte", append(bytes.Clone(valid), 0)},
		{"count too high", cat([]byte("CTR1"), uv(2), ok.bytes())},
		{"count too low", cat([]byte("CTR1"), uv(0), ok.bytes())},
		{"count far too high", cat([]byte("CTR1"), uv(1<<62), ok.bytes())},
		{"non-minimal count", cat([]byte("CTR1"), []byte{0x81, 0x00}, ok.bytes())},
		{"varint of 11 bytes", cat([]byte("CTR1"), bytes.Repeat([]byte{0x80}, 10), []byte{1})},
		{"varint overflowing 64 bits", cat([]byte("CTR1"), bytes.Repeat([]byte{0xff}, 9), []byte{0x02})},
		{"non-minimal name length", with(func(r *rawNode) { r.name = []byte{0x82, 0x00, 'o', 'k'} })},
		{"non-minimal mode", with(func(r *rawNode) { r.mode = []byte{0xa4, 0x83, 0x00} })},
		{"non-minimal zero", with(func(r *rawNode) { r.uid = []byte{0x80, 0x00} })},
		{"non-minimal signed time", with(func(r *rawNode) { r.mtime = []byte{0x80, 0x00} })},
		{"non-minimal size", with(func(r *rawNode) { r.size = []byte{0x83, 0x80, 0x00} })},
		{"empty name", with(func(r *rawNode) { r.name = str("") })},
		{"name .", with(func(r *rawNode) { r.name = str(".") })},
		{"name ..", with(func(r *rawNode) { r.name = str("..") })},
		{"name with slash", with(func(r *rawNode) { r.name = str("a/b") })},
		{"name /", with(func(r *rawNode) { r.name = str("/") })},
		{"name with NUL", with(func(r *rawNode) { r.name = str("a\x00") })},
		{"name too long", with(func(r *rawNode) { r.name = str(strings.Repeat("n", MaxNameLen+1)) })},
		{"name of 4096 bytes", with(func(r *rawNode) { r.name = str(strings.Repeat("n", 4096)) })},
		{"name length beyond input", with(func(r *rawNode) { r.name = uv(1000) })},
		{"type 0", with(func(r *rawNode) { r.typ = []byte{0} })},
		{"type 8", with(func(r *rawNode) { r.typ = []byte{8} })},
		{"type 255", with(func(r *rawNode) { r.typ = []byte{255} })},
		{"mode with file-type bits", with(func(r *rawNode) { r.mode = uv(0100644) })},
		{"mode beyond 32 bits", with(func(r *rawNode) { r.mode = uv(1 << 32) })},
		{"uid beyond 32 bits", with(func(r *rawNode) { r.uid = uv(1 << 32) })},
		{"gid beyond 32 bits", with(func(r *rawNode) { r.gid = uv(math.MaxUint64) })},
		{"user name too long", with(func(r *rawNode) { r.user = str(strings.Repeat("u", MaxFieldLen+1)) })},
		{"extents short of size", with(func(r *rawNode) { r.size = uv(4) })},
		{"extents beyond size", with(func(r *rawNode) { r.size = uv(2) })},
		{"no extents, non-zero size", with(func(r *rawNode) { r.content = uv(0) })},
		{"zero-length extent", with(func(r *rawNode) {
			r.content = extents(idb(1)[:], uv(3), idb(2)[:], uv(0))
		})},
		{"zero-length hole", with(func(r *rawNode) {
			r.content = extents(make([]byte, 32), uv(0), idb(2)[:], uv(3))
		})},
		{"extents overflowing 64 bits", with(func(r *rawNode) {
			r.size = uv(2)
			r.content = extents(idb(1)[:], uv(math.MaxUint64), idb(2)[:], uv(3))
		})},
		{"extent count beyond input", with(func(r *rawNode) { r.content = uv(2) })},
		{"truncated extent ID", with(func(r *rawNode) { r.content = cat(uv(1), idb(1)[:20]) })},
		{"subtrees on a file", with(func(r *rawNode) { r.subs = cat(uv(1), idb(5)[:]) })},
		{"link target on a file", with(func(r *rawNode) { r.target = str("x") })},
		{"link target too long", with(func(r *rawNode) { r.target = str(strings.Repeat("t", MaxFieldLen+1)) })},
		{"content on a dir", withDir(func(r *rawNode) {
			r.size = uv(3)
			r.content = extents(idb(1)[:], uv(3))
		})},
		{"size on a dir", withDir(func(r *rawNode) { r.size = uv(3) })},
		{"hole on a symlink", func() []byte {
			r := specNode(&Node{Name: []byte("l"), Type: Symlink, LinkTarget: []byte("x")})
			r.size, r.content = uv(3), extents(make([]byte, 32), uv(3))
			return specTree(r.bytes())
		}()},
		{"xattrs unsorted", with(func(r *rawNode) { r.xattrs = xattrs(str("user.b"), str(""), str("user.a"), str("")) })},
		{"xattrs duplicated", with(func(r *rawNode) { r.xattrs = xattrs(str("user.a"), str("1"), str("user.a"), str("2")) })},
		{"xattr without a name", with(func(r *rawNode) { r.xattrs = xattrs(str(""), str("v")) })},
		{"xattr value too long", with(func(r *rawNode) {
			r.xattrs = xattrs(str("user.a"), str(strings.Repeat("v", MaxXattrSize+1)))
		})},
		{"too many xattrs", with(func(r *rawNode) {
			var xs [][]byte
			for i := range MaxXattrs + 1 {
				xs = append(xs, str(fmt.Sprintf("user.%05d", i)), str(""))
			}
			r.xattrs = xattrs(xs...)
		})},
		{"xattr count beyond input", with(func(r *rawNode) { r.xattrs = uv(1 << 40) })},
		{"subtree count beyond input", withDir(func(r *rawNode) { r.subs = uv(1 << 20) })},
		{"subtree listed twice", withDir(func(r *rawNode) { r.subs = cat(uv(2), idb(5), idb(5)) })},
		{"subtree listed twice, apart", withDir(func(r *rawNode) { r.subs = cat(uv(3), idb(5), idb(6), idb(5)) })},
		{"larger than MaxTreeSize", append(bytes.Clone(valid), make([]byte, MaxTreeSize)...)},
	}
	for _, c := range append(cases, misordered...) {
		tr, err := Decode(c.b)
		if err == nil || tr != nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	for _, c := range cases {
		if _, err := Decode(c.b); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v does not wrap ErrCorrupt", c.name, err)
		}
	}
}

// misordered are trees whose entries are not in strictly increasing order.
var misordered = []struct {
	name string
	b    []byte
}{
	{"names unsorted", specTree(specNode(fileNode("b")).bytes(), specNode(fileNode("a")).bytes())},
	{"names duplicated", specTree(specNode(fileNode("a")).bytes(), specNode(fileNode("a")).bytes())},
	{"name prefix after name", specTree(specNode(fileNode("ab")).bytes(), specNode(fileNode("a")).bytes())},
}

// TestMisorderedIsCorrupt checks that Decode reports misordered entries
// wrapping ErrCorrupt, as it promises for every decoding error.
func TestMisorderedIsCorrupt(t *testing.T) {
	for _, c := range misordered {
		if _, err := Decode(c.b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v does not wrap ErrCorrupt", c.name, err)
		}
	}
}

// TestDecodeTruncated cuts the golden tree at every length.
func TestDecodeTruncated(t *testing.T) {
	g := readGolden(t)
	for n := range len(g) {
		if _, err := Decode(g[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("golden tree cut to %d bytes: %v", n, err)
		}
	}
}

// TestEncodeRefuses lists trees Encode must refuse: anything Decode would
// refuse is never written.
func TestEncodeRefuses(t *testing.T) {
	withNode := func(f func(n *Node)) *Tree {
		n := fileNode("f")
		f(n)
		return &Tree{Nodes: []*Node{n}}
	}
	for _, c := range []struct {
		name string
		tr   *Tree
	}{
		{"duplicate names", &Tree{Nodes: []*Node{fileNode("a"), fileNode("a")}}},
		{"unsorted", &Tree{Nodes: []*Node{fileNode("b"), fileNode("a")}}},
		{"invalid name", withNode(func(n *Node) { n.Name = []byte("..") })},
		{"bad type", withNode(func(n *Node) { n.Type = 0 })},
		{"mode bits", withNode(func(n *Node) { n.Mode = 010000 })},
		{"size mismatch", withNode(func(n *Node) { n.Size = 4 })},
		{"dir with content", withNode(func(n *Node) { n.Type = Dir })},
		{"file with subtrees", withNode(func(n *Node) { n.Subtrees = []blob.ID{id(1)} })},
		{"name too long", withNode(func(n *Node) { n.Name = bytes.Repeat([]byte{'n'}, MaxNameLen+1) })},
		{"subtree twice", withNode(func(n *Node) { *n = Node{Name: n.Name, Type: Dir, Subtrees: []blob.ID{id(1), id(2), id(1)}} })},
		{"xattr value too long", withNode(func(n *Node) {
			n.Xattrs = []Xattr{{Name: "user.a", Value: make([]byte, MaxXattrSize+1)}}
		})},
		{"over MaxTreeSize", func() *Tree {
			tr := &Tree{}
			for i := range MaxTreeSize/MaxXattrSize + 1 {
				n := fileNode(fmt.Sprintf("f%04d", i))
				n.Xattrs = []Xattr{{Name: "user.big", Value: make([]byte, MaxXattrSize)}}
				tr.Nodes = append(tr.Nodes, n)
			}
			return tr
		}()},
	} {
		if b, err := c.tr.Encode(); err == nil {
			t.Errorf("%s: encoded to %d bytes", c.name, len(b))
		}
	}
}

// TestEncodeWithinDecodeLimits checks that Encode refuses every node that
// Decode would refuse for exceeding a limit, so that no tree is written
// that cannot be read back.
func TestEncodeWithinDecodeLimits(t *testing.T) {
	long := strings.Repeat("x", MaxFieldLen+1)
	many := make([]Xattr, MaxXattrs+1)
	for i := range many {
		many[i].Name = fmt.Sprintf("user.%05d", i)
	}
	for _, c := range []struct {
		name string
		f    func(n *Node)
	}{
		{"too many xattrs", func(n *Node) { n.Xattrs = many }},
		{"long xattr name", func(n *Node) { n.Xattrs = []Xattr{{Name: long}} }},
		{"long user", func(n *Node) { n.User = long }},
		{"long group", func(n *Node) { n.Group = long }},
		{"long link target", func(n *Node) {
			*n = Node{Name: n.Name, Type: Symlink, LinkTarget: []byte(long)}
		}},
	} {
		n := fileNode("f")
		c.f(n)
		b, err := (&Tree{Nodes: []*Node{n}}).Encode()
		if err != nil {
			continue
		}
		if _, err := Decode(b); err != nil {
			t.Errorf("%s: Encode wrote a tree that Decode refuses: %v", c.name, err)
		}
	}
}

// FuzzDecode checks that Decode never panics, and that whatever it accepts
// encodes back to the very same bytes: the encoding is canonical. (Which
// errors wrap ErrCorrupt is TestDecodeRejects' concern.)
func FuzzDecode(f *testing.F) {
	f.Add([]byte("CTR1\x00"))
	f.Add(mustEncode(f, goldenTree()))
	f.Add(mustEncode(f, &Tree{Nodes: []*Node{fileNode("a"), fileNode("b")}}))
	f.Add(specTree(specNode(&Node{Name: []byte("d"), Type: Dir, Subtrees: []blob.ID{id(1), id(2)}}).bytes()))
	f.Add(specTree(specNode(&Node{Name: []byte("x"), Type: File, Xattrs: []Xattr{{Name: "user.a", Value: []byte("v")}}}).bytes()))
	f.Add([]byte("CTR1\x01\x01a\x01\x80\x00"))
	// §5.2 limits: a name at and over MaxNameLen, a subtree listed twice.
	f.Add(mustEncode(f, &Tree{Nodes: []*Node{fileNode(strings.Repeat("n", MaxNameLen))}}))
	f.Add(specTree(specNode(fileNode(strings.Repeat("n", MaxNameLen+1))).bytes()))
	f.Add(specTree(specNode(&Node{Name: []byte("d"), Type: Dir, Subtrees: []blob.ID{id(1), id(1)}}).bytes()))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := Decode(b)
		if err != nil {
			return
		}
		again, err := tr.Encode()
		if err != nil {
			t.Fatalf("decoded tree does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("decoded %x, re-encoded %x", b, again)
		}
	})
}

// TestSameEncoding checks that SameEncoding tells apart nodes that differ
// in any field a tree stores, and not copies.
func TestSameEncoding(t *testing.T) {
	base := func() *Node {
		return &Node{Name: []byte("f"), Type: File, Mode: 0o644, UID: 1, GID: 2, User: "u", Group: "g",
			MTime: 3, CTime: 4, Size: 5, Inode: 6, Device: 7, Links: 1,
			Xattrs:  []Xattr{{Name: "user.a", Value: []byte("1")}},
			Content: []Extent{{ID: blob.ID{1}, Length: 5}}}
	}
	for _, tc := range []struct {
		name   string
		change func(n *Node)
		same   bool
	}{
		{"copy", func(*Node) {}, true},
		{"name", func(n *Node) { n.Name = []byte("g") }, false},
		{"mode", func(n *Node) { n.Mode = 0o600 }, false},
		{"ctime", func(n *Node) { n.CTime++ }, false},
		{"xattr value", func(n *Node) { n.Xattrs = []Xattr{{Name: "user.a", Value: []byte("2")}} }, false},
		{"content", func(n *Node) { n.Content = []Extent{{ID: blob.ID{2}, Length: 5}} }, false},
		{"subtrees", func(n *Node) { n.Type, n.Size, n.Content, n.Subtrees = Dir, 0, nil, []blob.ID{{3}} }, false},
	} {
		n := base()
		tc.change(n)
		if got := SameEncoding(base(), n); got != tc.same {
			t.Errorf("%s: SameEncoding = %v, want %v", tc.name, got, tc.same)
		}
	}
}

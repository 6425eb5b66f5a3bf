//go:build linux

package restorer_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/restorer"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/testtree/testrepo"
	"github.com/coffer-backup/coffer/internal/tree"
)

// rawNode is a tree node as a hostile repository may hold it: encodeNode
// writes it byte by byte as docs/format.md §5 lays out, without the checks
// tree.Tree.Encode makes.
type rawNode struct {
	name         string
	typ          tree.NodeType
	mode         uint32
	size         uint64
	inode, links uint64
	target       string
	content      []tree.Extent
	subtrees     []blob.ID
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// encodeNode appends n in the field order of §5: name, type, mode, uid,
// gid, user, group, mtime, ctime, size, inode, device, links, rdev, link
// target, xattrs, content, subtrees.
func encodeNode(b []byte, n rawNode) []byte {
	b = appendString(b, n.name)
	b = append(b, byte(n.typ))
	for _, v := range []uint64{uint64(n.mode), 0, 0} {
		b = binary.AppendUvarint(b, v)
	}
	b = appendString(appendString(b, "root"), "root")
	b = binary.AppendVarint(binary.AppendVarint(b, 1e18), 1e18)
	for _, v := range []uint64{n.size, n.inode, 1, n.links, 0} {
		b = binary.AppendUvarint(b, v)
	}
	b = appendString(b, n.target)
	b = binary.AppendUvarint(b, 0) // no xattrs
	b = binary.AppendUvarint(b, uint64(len(n.content)))
	for _, e := range n.content {
		b = binary.AppendUvarint(append(b, e.ID[:]...), e.Length)
	}
	b = binary.AppendUvarint(b, uint64(len(n.subtrees)))
	for _, id := range n.subtrees {
		b = append(b, id[:]...)
	}
	return b
}

// hostile stores crafted blobs in a repository.
type hostile struct {
	t *testing.T
	r *testrepo.Repo
}

func (h hostile) save(typ blob.Type, b []byte) blob.ID {
	id, _, err := h.r.SaveBlob(context.Background(), typ, b)
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

// tree stores a tree blob listing nodes in the order given.
func (h hostile) tree(nodes ...rawNode) blob.ID {
	b := binary.AppendUvarint([]byte("CTR1"), uint64(len(nodes)))
	for _, n := range nodes {
		b = encodeNode(b, n)
	}
	return h.save(blob.Tree, b)
}

func (h hostile) file(name, data string) rawNode {
	return rawNode{name: name, typ: tree.File, mode: 0o644, size: uint64(len(data)), links: 1,
		content: []tree.Extent{{ID: h.save(blob.Data, []byte(data)), Length: uint64(len(data))}}}
}

func (h hostile) dir(name string, subtrees ...blob.ID) rawNode {
	return rawNode{name: name, typ: tree.Dir, mode: 0o755, links: 1, subtrees: subtrees}
}

func symlink(name, target string) rawNode {
	return rawNode{name: name, typ: tree.Symlink, mode: 0o777, links: 1, target: target}
}

// neverKeeps are the hostile trees that OverwriteNever may restore without
// error, keeping the first item of a name where Overwrite fails to replace
// it.
var neverKeeps = map[string]bool{"directory then symlink, two trees": true}

// TestHostileTrees restores snapshots whose trees the real encoder refuses
// to write, or that abuse valid trees: each restore must fail with an error,
// never panic, and never create or change anything outside the target.
func TestHostileTrees(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		root func(h hostile, s sandbox) blob.ID
		// mayWork: with an Overwrite mode but the default the restore may
		// succeed, as long as it stays inside the target.
		mayWork bool
		why     string // in the error
	}{
		{"dot-dot file", func(h hostile, s sandbox) blob.ID {
			return h.tree(h.file("..", "escaped"))
		}, false, "invalid entry name \"..\""},
		{"dot-dot directory", func(h hostile, s sandbox) blob.ID {
			return h.tree(h.dir("..", h.tree(h.file("escaped", "x"))))
		}, false, "invalid entry name \"..\""},
		{"nested dot-dots", func(h hostile, s sandbox) blob.ID {
			up := h.tree(h.dir("..", h.tree(h.dir("..", h.tree(h.file("escaped", "x"))))))
			return h.tree(h.dir("src", up))
		}, false, "invalid entry name \"..\""},
		{"dot", func(h hostile, s sandbox) blob.ID {
			return h.tree(h.dir(".", h.tree(h.file("x", "x"))))
		}, false, "invalid entry name \".\""},
		{"slash", func(h hostile, s sandbox) blob.ID {
			return h.tree(h.dir("src", h.tree(h.file("../../escaped", "x"))))
		}, false, "invalid entry name \"../../escaped\""},
		{"absolute", func(h hostile, s sandbox) blob.ID {
			return h.tree(h.file(filepath.Join(s.outside, "escaped"), "x"))
		}, false, "invalid entry name"},
		{"empty name", func(h hostile, s sandbox) blob.ID {
			return h.tree(h.dir("src", h.tree(h.file("", "x"))))
		}, false, "invalid entry name \"\""},
		{"NUL", func(h hostile, s sandbox) blob.ID {
			return h.tree(h.file("a\x00/../../escaped", "x"))
		}, false, "invalid entry name"},
		{"unsorted", func(h hostile, s sandbox) blob.ID {
			return h.tree(h.file("b", "b"), h.file("a", "a"))
		}, false, "not in strictly increasing order"},
		{"symlink and directory of one name, one tree", func(h hostile, s sandbox) blob.ID {
			return h.tree(symlink("x", s.outside), h.dir("x", h.tree(h.file("escaped", "x"))))
		}, false, "not in strictly increasing order"},
		{"symlink then directory, two trees", func(h hostile, s sandbox) blob.ID {
			return h.tree(h.dir("src",
				h.tree(symlink("x", s.outside)),
				h.tree(h.dir("x", h.tree(h.file("escaped", "x"))))))
		}, true, "file exists"},
		{"relative symlink then directory, two trees", func(h hostile, s sandbox) blob.ID {
			return h.tree(h.dir("src",
				h.tree(symlink("x", "../../../../../outside")),
				h.tree(h.dir("x", h.tree(h.file("escaped", "x"))))))
		}, true, "file exists"},
		{"symlink then file, two trees", func(h hostile, s sandbox) blob.ID {
			return h.tree(h.dir("src",
				h.tree(symlink("x", filepath.Join(s.outside, "victim"))),
				h.tree(h.file("x", "overwritten"))))
		}, true, "file exists"},
		{"directory then symlink, two trees", func(h hostile, s sandbox) blob.ID {
			return h.tree(h.dir("src",
				h.tree(h.dir("x", h.tree(h.file("f", "x")))),
				h.tree(symlink("x", s.outside))))
		}, false, "\"src/x"},
		{"hard link to a name that becomes a symlink", func(h hostile, s sandbox) blob.ID {
			first := h.file("f", "linked")
			first.inode, first.links = 7, 2
			second := h.file("g", "linked")
			second.inode, second.links = 7, 2
			return h.tree(h.dir("src",
				h.tree(first),
				h.tree(symlink("f", filepath.Join(s.outside, "victim"))),
				h.tree(second)))
		}, true, "\"src/"},
		{"size beyond 2^63", func(h hostile, s sandbox) blob.ID {
			n := h.file("f", "x")
			n.content = append(n.content, tree.Extent{Length: 1 << 63})
			n.size = 1<<63 + 1
			return h.tree(n)
		}, false, "truncate"},
		{"extent length not the blob's", func(h hostile, s sandbox) blob.ID {
			n := h.file("f", "four")
			n.content[0].Length, n.size = 3, 3
			return h.tree(n)
		}, false, "has 4 bytes, the tree says 3"},
		{"extent naming a tree blob", func(h hostile, s sandbox) blob.ID {
			sub := h.tree()
			return h.tree(rawNode{name: "f", typ: tree.File, size: 4, content: []tree.Extent{{ID: sub, Length: 4}}})
		}, false, "indexed as tree, expected data"},
		{"missing blob", func(h hostile, s sandbox) blob.ID {
			return h.tree(rawNode{name: "f", typ: tree.File, size: 4, content: []tree.Extent{{ID: blob.ID{1}, Length: 4}}})
		}, false, "is not in the index"},
		{"missing subtree", func(h hostile, s sandbox) blob.ID {
			return h.tree(h.dir("d", blob.ID{2}))
		}, false, "is not in the index"},
	} {
		for _, m := range modes {
			t.Run(tc.name+" "+m.name, func(t *testing.T) {
				r := testrepo.New(t)
				s := newSandbox(t)
				h := hostile{t, r}
				ctx := context.Background()
				root := tc.root(h, s)
				if err := r.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				id, err := r.SaveSnapshot(ctx, &snapshot.Snapshot{Time: time.Now(), Hostname: "evil", Paths: []string{"/src"}, Tree: root})
				if err != nil {
					t.Fatal(err)
				}
				before := s.outsideTarget(t)
				_, err = r.Restore(t, r.Snapshot(t, id).Tree, restorer.Options{Target: s.target, Overwrite: m.mode})
				s.checkOutside(t, before)
				switch {
				case m.mode != restorer.OverwriteRefuse && tc.mayWork:
				case m.mode == restorer.OverwriteNever && neverKeeps[tc.name]:
				case err == nil:
					t.Error("the restore succeeded")
				case !strings.Contains(err.Error(), tc.why):
					t.Errorf("error %q, want it to say %q", err, tc.why)
				}
			})
		}
	}
}

// TestRawEncoding checks encodeNode against the real encoder on valid
// nodes, so that the hostile trees above fail for their hostile part only.
func TestRawEncoding(t *testing.T) {
	data, sub := blob.ID{1, 2, 3}, blob.ID{4, 5, 6}
	raw := []rawNode{
		{name: "d", typ: tree.Dir, mode: 0o755, links: 1, subtrees: []blob.ID{sub, data}},
		{name: "f", typ: tree.File, mode: 0o4644, size: 1<<40 + 3, inode: 300, links: 2,
			content: []tree.Extent{{ID: data, Length: 3}, {Length: 1 << 40}}},
		{name: "l", typ: tree.Symlink, mode: 0o777, links: 1, target: "../x"},
	}
	var nodes []*tree.Node
	b := binary.AppendUvarint([]byte("CTR1"), uint64(len(raw)))
	for _, n := range raw {
		b = encodeNode(b, n)
		nodes = append(nodes, &tree.Node{
			Name: []byte(n.name), Type: n.typ, Mode: n.mode, User: "root", Group: "root",
			MTime: 1e18, CTime: 1e18, Size: n.size, Inode: n.inode, Device: 1, Links: n.links,
			LinkTarget: []byte(n.target), Content: n.content, Subtrees: n.subtrees,
		})
	}
	want, err := (&tree.Tree{Nodes: nodes}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("encodeNode gives\n%x\nthe tree package\n%x", b, want)
	}
}

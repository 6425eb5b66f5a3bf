//go:build linux

package archiver_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/chunker"
	"github.com/coffer-backup/coffer/internal/testtree"
	"github.com/coffer-backup/coffer/internal/testtree/testrepo"
	"github.com/coffer-backup/coffer/internal/tree"
)

func random(seed uint64, n int) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := 0; i < n; i += 8 {
		v := rng.Uint64()
		for j := i; j < min(i+8, n); j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
	return b
}

// cuts returns the lengths of the first chunks of b.
func cuts(t *testing.T, r *testrepo.Repo, b []byte) []int {
	t.Helper()
	c, err := chunker.New(bytes.NewReader(b), r.Gear(), r.ChunkerParams())
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for {
		chunk, err := c.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, len(chunk))
	}
}

// checkExtents fails unless n's extents add up to its size and every data
// extent but the last before a hole or the end is between Min and Max.
func checkExtents(t *testing.T, name string, n *tree.Node, p chunker.Params) {
	t.Helper()
	var total uint64
	for i, e := range n.Content {
		total += e.Length
		last := i == len(n.Content)-1 || n.Content[i+1].IsHole()
		if !e.IsHole() && (e.Length > uint64(p.Max) || (!last && e.Length < uint64(p.Min))) {
			t.Errorf("%s: extent %d of %d bytes outside [%d, %d]", name, i, e.Length, p.Min, p.Max)
		}
		if i > 0 && e.IsHole() && n.Content[i-1].IsHole() {
			t.Errorf("%s: two holes in a row at extent %d", name, i)
		}
	}
	if total != n.Size {
		t.Errorf("%s: extents add up to %d, size %d", name, total, n.Size)
	}
}

func lengths(n *tree.Node) []int {
	var out []int
	for _, e := range n.Content {
		out = append(out, int(e.Length))
	}
	return out
}

// TestSizes round-trips files around the chunker's limits and cut points,
// large incompressible and compressible files, and written zeros, which must
// stay data.
func TestSizes(t *testing.T) {
	t.Parallel()
	r := testrepo.New(t)
	p := r.ChunkerParams()
	rnd := random(1, 2*p.Max)
	cut := cuts(t, r, rnd)
	c1, c2 := cut[0], cut[1]
	text := bytes.Repeat([]byte("all work and no play makes a dull backup. "), (8<<20)/43)
	cases := []struct {
		name string
		data []byte
		want []int // extent lengths, if known
	}{
		{"0", nil, nil},
		{"1", rnd[:1], []int{1}},
		{"min-1", rnd[:p.Min-1], []int{p.Min - 1}},
		{"min", rnd[:p.Min], []int{p.Min}},
		{"min+1", rnd[:p.Min+1], nil},
		{"cut-1", rnd[:c1-1], []int{c1 - 1}},
		{"cut", rnd[:c1], []int{c1}},
		{"cut+1", rnd[:c1+1], []int{c1, 1}},
		{"two cuts", rnd[:c1+c2], []int{c1, c2}},
		{"max", random(2, p.Max), nil},
		{"incompressible", random(3, 20<<20), nil},
		{"compressible", text, nil},
		{"zeros", make([]byte, p.Max+1), nil},
	}
	var (
		spec testtree.Spec
		size int64
	)
	for _, tc := range cases {
		spec = append(spec, testtree.Entry{Path: tc.name, Data: tc.data})
		size += int64(len(tc.data))
	}
	src := filepath.Join(t.TempDir(), "src")
	testtree.Build(t, src, spec)
	a, res := roundTrip(t, r, archiver.Options{}, src)
	root := r.Snapshot(t, res.Snapshot).Tree
	for _, tc := range cases {
		n := r.Node(t, root, "src/"+tc.name)
		checkExtents(t, tc.name, n, p)
		if tc.want != nil && !slices.Equal(lengths(n), tc.want) {
			t.Errorf("%s: extents %v, want %v", tc.name, lengths(n), tc.want)
		}
	}
	if got := a.Stats.BytesRead.Load(); got != size {
		t.Errorf("BytesRead %d, want %d", got, size)
	}
	if c1 < p.Min || c1 > p.Max || c2 < p.Min {
		t.Errorf("cut points %d, %d outside the chunker's limits", c1, c2)
	}
}

// TestSparse checks that holes are neither read, stored nor written: a
// 1 GiB file with a few islands of data is backed up by reading the islands
// only, and restored with the same data ranges.
func TestSparse(t *testing.T) {
	t.Parallel()
	const gib = 1 << 30
	spec := testtree.Spec{
		{Path: "huge", Size: gib, Islands: []testtree.Island{
			{Off: 3 * 4096, Data: random(4, 5000)},
			{Off: gib/2 - 100, Data: random(5, 9000)}, // unaligned, across a boundary
			{Off: gib - 4096, Data: random(6, 4096)},  // data at the very end
		}},
		{Path: "hole-at-end", Data: random(7, 64<<10), Size: 10 << 20},
		{Path: "hole-at-start", Islands: []testtree.Island{{Off: 8 << 20, Data: random(8, 3<<20)}}},
		{Path: "all-hole", Size: 100 << 20},
		{Path: "linked", Link: "huge"},
	}
	r, src, a, res := buildTrip(t, spec)
	scan := testtree.MustScan(t, src)
	var data int64
	for _, name := range []string{"huge", "hole-at-end", "hole-at-start", "all-hole", "linked"} {
		it := scan[name]
		for _, rg := range it.Ranges {
			data += rg.Len
		}
		if name != "linked" && rangesLen(it.Ranges) >= it.Size {
			t.Fatalf("%s is not sparse on this file system: %v", name, it.Ranges)
		}
		n := r.Node(t, r.Snapshot(t, res.Snapshot).Tree, "src/"+name)
		checkExtents(t, name, n, r.ChunkerParams())
		if got := storedData(n); got != rangesLen(it.Ranges) {
			t.Errorf("%s: %d bytes of data extents, the file has %d bytes of data", name, got, rangesLen(it.Ranges))
		}
	}
	if got := a.Stats.BytesRead.Load(); got != data {
		t.Errorf("BytesRead %d, want the %d bytes of data only", got, data)
	}
	if got, want := a.Stats.TotalBytes.Load(), int64(2*gib+10<<20+11<<20+100<<20); got != want {
		t.Errorf("TotalBytes %d, want %d", got, want)
	}
	// Progress counts holes as done, so it reaches the announced size.
	if got, want := a.Stats.BytesRead.Load()+a.Stats.BytesHoles.Load(), a.Stats.TotalBytes.Load(); got != want {
		t.Errorf("BytesRead + BytesHoles = %d, want the files' %d bytes", got, want)
	}
}

func rangesLen(rs []testtree.Range) int64 {
	var n int64
	for _, r := range rs {
		n += r.Len
	}
	return n
}

func storedData(n *tree.Node) int64 {
	var d int64
	for _, e := range n.Content {
		if !e.IsHole() {
			d += int64(e.Length)
		}
	}
	return d
}

package filedata_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/filedata"
	"github.com/coffer-backup/coffer/internal/tree"
)

var ctx = context.Background()

// blobs is a Loader over a map, counting loads.
type blobs struct {
	m     map[blob.ID][]byte
	loads int
}

func (b *blobs) LoadBlob(_ context.Context, t blob.Type, id blob.ID, dst []byte) ([]byte, error) {
	b.loads++
	d, ok := b.m[id]
	if !ok || t != blob.Data {
		return nil, fmt.Errorf("no blob %s", id.Short())
	}
	return append(dst, d...), nil
}

// file builds a node and its loader from pieces: a string is a data blob,
// an int a hole of that length. It returns the content expected.
func file(pieces ...any) (*tree.Node, *blobs, []byte) {
	n := &tree.Node{Type: tree.File}
	l := &blobs{m: map[blob.ID][]byte{}}
	var want []byte
	for i, p := range pieces {
		switch v := p.(type) {
		case string:
			id := blob.ID{byte(i + 1)}
			l.m[id] = []byte(v)
			n.Content = append(n.Content, tree.Extent{ID: id, Length: uint64(len(v))})
			want = append(want, v...)
		case int:
			n.Content = append(n.Content, tree.Extent{Length: uint64(v)})
			want = append(want, make([]byte, v)...)
		}
	}
	n.Size = uint64(len(want))
	return n, l, want
}

func TestReadAt(t *testing.T) {
	n, l, want := file("hello", 3, "world", "!", 4)
	f, err := filedata.Open(l, n)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off <= len(want); off++ {
		for size := 0; size <= len(want)-off+2; size++ {
			p := bytes.Repeat([]byte{0xee}, size)
			got, err := f.ReadAt(ctx, p, uint64(off))
			end := min(off+size, len(want))
			if got != end-off || !bytes.Equal(p[:got], want[off:end]) {
				t.Fatalf("ReadAt(%d, %d) = %d %q, want %q", off, size, got, p[:got], want[off:end])
			}
			if wantEOF := off+size > len(want); wantEOF != (err == io.EOF) || !wantEOF && err != nil {
				t.Fatalf("ReadAt(%d, %d): err %v", off, size, err)
			}
		}
	}
}

func TestReadAtLoadsOnlyWhatItReads(t *testing.T) {
	n, l, _ := file("aaaa", 1<<20, "bbbb", "cccc")
	f, err := filedata.Open(l, n)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 100)
	if _, err := f.ReadAt(ctx, p, 10); err != nil || l.loads != 0 {
		t.Fatalf("reading a hole: err %v, %d loads", err, l.loads)
	}
	if _, err := f.ReadAt(ctx, p[:6], 4+1<<20+2); err != nil || l.loads != 2 || string(p[:6]) != "bbcccc" {
		t.Fatalf("reading across two blobs: %q, err %v, %d loads", p[:6], err, l.loads)
	}
}

func TestWriteTo(t *testing.T) {
	n, l, want := file(200<<10, "data", 5, "more", 70<<10)
	f, err := filedata.Open(l, n)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if w, err := f.WriteTo(ctx, &out); err != nil || w != int64(len(want)) || !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("WriteTo wrote %d bytes, err %v; content equal: %v", w, err, bytes.Equal(out.Bytes(), want))
	}
}

func TestSeekDataHole(t *testing.T) {
	n, l, _ := file(4, "ab", "cd", 3, "e", 2) // holes [0,4) [8,11) [12,14)
	f, err := filedata.Open(l, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		off            uint64
		data, hole     uint64
		dataOK, holeOK bool
	}{
		{0, 4, 0, true, true},
		{3, 4, 3, true, true},
		{4, 4, 8, true, true}, // the two data extents are one run
		{7, 7, 8, true, true},
		{8, 11, 8, true, true},
		{11, 11, 12, true, true},
		{12, 0, 12, false, true},
		{13, 0, 13, false, true},
		{14, 0, 0, false, false},
	} {
		d, dok := f.SeekData(c.off)
		h, hok := f.SeekHole(c.off)
		if d != c.data || dok != c.dataOK || h != c.hole || hok != c.holeOK {
			t.Errorf("at %d: data %d %v, hole %d %v; want %d %v, %d %v", c.off, d, dok, h, hok, c.data, c.dataOK, c.hole, c.holeOK)
		}
	}
	n, l, _ = file("no holes")
	f, _ = filedata.Open(l, n)
	if h, ok := f.SeekHole(3); h != 8 || !ok {
		t.Errorf("the end of a file is a hole: got %d %v", h, ok)
	}
}

func TestCorrupt(t *testing.T) {
	n, l, _ := file("abc")
	n.Size = 4
	if _, err := filedata.Open(l, n); !errors.Is(err, filedata.ErrCorrupt) {
		t.Errorf("size mismatch: %v", err)
	}
	n.Size = 3
	n.Content[0].Length = 2 // the blob holds 3
	n.Size = 2
	f, err := filedata.Open(l, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadAt(ctx, make([]byte, 2), 0); !errors.Is(err, filedata.ErrCorrupt) {
		t.Errorf("blob of the wrong length: %v", err)
	}
	n.Content[0].ID = blob.ID{9}
	if _, err := f.WriteTo(ctx, io.Discard); err == nil {
		t.Error("a missing blob was written")
	}
}

func TestNext(t *testing.T) {
	n, l, _ := file("aaaa", 2, "bb", "cc", 3, "dd") // blobs 1, 3, 4, 6 at 0, 6, 8, 13
	f, err := filedata.Open(l, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		off  uint64
		n    int
		want []byte // first bytes of the IDs
	}{
		{0, 2, []byte{1, 3}},
		{1, 2, []byte{3, 4}},
		{6, 5, []byte{3, 4, 6}},
		{9, 1, []byte{6}},
		{15, 1, nil},
	} {
		var got []byte
		for _, id := range f.Next(c.off, c.n) {
			got = append(got, id[0])
		}
		if !bytes.Equal(got, c.want) {
			t.Errorf("Next(%d, %d) = %v, want %v", c.off, c.n, got, c.want)
		}
	}
}

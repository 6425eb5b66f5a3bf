// Package filedata reads the content of a file recorded in a snapshot from
// its extents (docs/format.md §5.3): data blobs in order, holes as zeros.
// It reads a blob only when a read reaches it, so a caller reading part of
// a file loads only that part, and holds at most one blob at a time.
package filedata

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/tree"
)

// Loader loads a blob's plaintext, appending it to dst: a repo.Repo, or a
// repo.WindowReader as restores use. File.ReadAt passes a nil dst and
// never changes what it gets back, so a Loader may then return a slice it
// shares (a cache); WriteTo passes a buffer of its own.
type Loader interface {
	LoadBlob(ctx context.Context, t blob.Type, id blob.ID, dst []byte) ([]byte, error)
}

// ErrCorrupt is wrapped when a file's extents disagree with its size or a
// blob with its extent's length.
var ErrCorrupt = errors.New("file content does not match its record")

// File is the content of one regular file of a snapshot.
type File struct {
	l    Loader
	ext  []tree.Extent
	ends []uint64 // ends[i] is the offset just past ext[i]
}

// Open returns the content of n, a regular file. It fails with an error
// wrapping ErrCorrupt if the lengths of n's extents do not add up to its
// size.
func Open(l Loader, n *tree.Node) (*File, error) {
	if n.Type != tree.File {
		return nil, fmt.Errorf("%s is not a regular file", n.Type)
	}
	f := &File{l: l, ext: n.Content, ends: make([]uint64, len(n.Content))}
	var end uint64
	for i, e := range n.Content {
		if end+e.Length < end {
			return nil, fmt.Errorf("extents overflow: %w", ErrCorrupt)
		}
		end += e.Length
		f.ends[i] = end
	}
	if end != n.Size {
		return nil, fmt.Errorf("extents hold %d bytes, the size is %d: %w", end, n.Size, ErrCorrupt)
	}
	return f, nil
}

// Size returns the file's length, holes included.
func (f *File) Size() uint64 {
	if len(f.ends) == 0 {
		return 0
	}
	return f.ends[len(f.ends)-1]
}

// extentAt returns the index of the extent holding the byte at off, or
// len(f.ext) if off is at or past the end.
func (f *File) extentAt(off uint64) int {
	return sort.Search(len(f.ends), func(i int) bool { return f.ends[i] > off })
}

// start returns the offset of extent i.
func (f *File) start(i int) uint64 { return f.ends[i] - f.ext[i].Length }

// load returns the plaintext of data extent i, appended to buf[:0] (nil
// if buf is nil).
func (f *File) load(ctx context.Context, i int, buf []byte) ([]byte, error) {
	e := f.ext[i]
	if buf != nil {
		buf = buf[:0]
	}
	b, err := f.l.LoadBlob(ctx, blob.Data, e.ID, buf)
	if err != nil {
		return buf, fmt.Errorf("blob %s at offset %d: %w", e.ID.Short(), f.start(i), err)
	}
	if uint64(len(b)) != e.Length {
		return b, fmt.Errorf("blob %s has %d bytes, the tree says %d: %w", e.ID.Short(), len(b), e.Length, ErrCorrupt)
	}
	return b, nil
}

// ReadAt fills p with the bytes at off, loading only the blobs they lie
// in, and returns how many it read: fewer than len(p) only at the end of
// the file, with io.EOF.
func (f *File) ReadAt(ctx context.Context, p []byte, off uint64) (int, error) {
	n := 0
	for i := f.extentAt(off); n < len(p) && i < len(f.ext); i++ {
		pos := off + uint64(n) - f.start(i)
		want := min(uint64(len(p)-n), f.ext[i].Length-pos)
		if f.ext[i].IsHole() {
			clear(p[n : n+int(want)])
		} else {
			buf, err := f.load(ctx, i, nil)
			if err != nil {
				return n, err
			}
			copy(p[n:], buf[pos:pos+want])
		}
		n += int(want)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Next returns the data blobs of the first n data extents that start at or
// after off, in order: what a sequential reader now at off needs next, for
// a caller that loads ahead.
func (f *File) Next(off uint64, n int) []blob.ID {
	var ids []blob.ID
	for i := f.extentAt(off); i < len(f.ext) && len(ids) < n; i++ {
		if !f.ext[i].IsHole() && f.start(i) >= off {
			ids = append(ids, f.ext[i].ID)
		}
	}
	return ids
}

// zeros is written for holes.
var zeros [64 << 10]byte

// WriteTo writes the whole content to w in order, one blob at a time,
// holes as zeros, and returns the bytes written.
func (f *File) WriteTo(ctx context.Context, w io.Writer) (int64, error) {
	buf := make([]byte, 0, 1<<20)
	var written int64
	for i, e := range f.ext {
		var err error
		if e.IsHole() {
			err = writeZeros(w, e.Length, &written)
		} else if buf, err = f.load(ctx, i, buf); err == nil {
			var m int
			m, err = w.Write(buf)
			written += int64(m)
		}
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// writeZeros writes n zero bytes to w, adding them to written.
func writeZeros(w io.Writer, n uint64, written *int64) error {
	for n > 0 {
		m, err := w.Write(zeros[:min(n, uint64(len(zeros)))])
		*written += int64(m)
		if err != nil {
			return err
		}
		n -= uint64(m)
	}
	return nil
}

// SeekData returns the offset of the first byte at or after off that is
// not in a hole, as lseek's SEEK_DATA: ok is false if there is none.
func (f *File) SeekData(off uint64) (uint64, bool) {
	for i := f.extentAt(off); i < len(f.ext); i++ {
		if !f.ext[i].IsHole() && f.ext[i].Length > 0 {
			return max(off, f.start(i)), true
		}
	}
	return 0, false
}

// SeekHole returns the offset of the first byte at or after off that is
// in a hole, or the size if none is (the end of a file counts as a hole),
// as lseek's SEEK_HOLE: ok is false if off is at or past the end.
func (f *File) SeekHole(off uint64) (uint64, bool) {
	if off >= f.Size() {
		return 0, false
	}
	for i := f.extentAt(off); i < len(f.ext); i++ {
		if f.ext[i].IsHole() && f.ext[i].Length > 0 {
			return max(off, f.start(i)), true
		}
	}
	return f.Size(), true
}

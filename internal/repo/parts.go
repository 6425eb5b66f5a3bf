package repo

import (
	"errors"
	"io"
)

// partsReader reads the concatenation of byte slices without copying them
// into one buffer. It is an io.ReadSeeker, so a store may rewind it to retry
// an upload.
type partsReader struct {
	parts [][]byte
	size  int64
	pos   int64 // absolute offset
	i     int   // part holding pos
	off   int   // offset of pos within parts[i]
}

func newPartsReader(parts [][]byte) *partsReader {
	r := &partsReader{parts: parts}
	for _, p := range parts {
		r.size += int64(len(p))
	}
	return r
}

// Size returns the total length.
func (r *partsReader) Size() int64 { return r.size }

func (r *partsReader) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) && r.i < len(r.parts) {
		c := copy(b[n:], r.parts[r.i][r.off:])
		n += c
		r.off += c
		if r.off == len(r.parts[r.i]) {
			r.i, r.off = r.i+1, 0
		}
	}
	r.pos += int64(n)
	if n == 0 && len(b) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (r *partsReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.size
	}
	if offset < 0 || offset > r.size {
		return r.pos, errors.New("seek outside the pack")
	}
	i, rem := 0, offset
	for i < len(r.parts) && rem >= int64(len(r.parts[i])) {
		rem -= int64(len(r.parts[i]))
		i++
	}
	r.pos, r.i, r.off = offset, i, int(rem)
	return offset, nil
}

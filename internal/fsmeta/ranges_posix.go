//go:build linux || darwin || freebsd

package fsmeta

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// DataRanges returns the ranges of the first size bytes of f, an open regular
// file, that hold data, in increasing order; the bytes between them are holes,
// which read as zeros but are not stored. Each range is maximal, so no two
// touch. A file without holes yields the single range [0, size), an empty or
// all-hole file none, and a file on a file system that cannot report holes
// the single range [0, size). DataRanges moves f's offset: read f with ReadAt.
func DataRanges(f File, size int64) ([]Range, error) {
	fd := int(f.Fd())
	var ranges []Range
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		switch {
		case errors.Is(err, unix.ENXIO):
			return ranges, nil // only a hole remains
		case errors.Is(err, unix.EINVAL) && off == 0:
			return []Range{{0, size}}, nil // holes unsupported
		case err != nil:
			return nil, fmt.Errorf("fsmeta: find data in %q: %w", f.Name(), err)
		}
		if data >= size {
			break
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return nil, fmt.Errorf("fsmeta: find hole in %q: %w", f.Name(), err)
		}
		if hole <= data {
			return nil, fmt.Errorf("fsmeta: %q changed while its holes were read", f.Name())
		}
		hole = min(hole, size)
		ranges = append(ranges, Range{data, hole - data})
		off = hole
	}
	return ranges, nil
}

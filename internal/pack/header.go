package pack

import (
	"encoding/binary"
	"fmt"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
)

// Header plaintext (docs/format.md §6.2):
//
//	version (1) || count (u32 LE) || count × entry || padding (zero bytes)
//	entry = type (1) || ID (32) || stored length (u32 LE) || raw length (u32 LE)
//
// Offsets are implicit: entries are listed in pack order and the blobs
// are contiguous from offset 0.

// appendHeader appends the header plaintext listing entries, followed by
// pad zero bytes, to dst.
func appendHeader(dst []byte, entries []Entry, pad uint64) []byte {
	dst = append(dst, Version)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(entries)))
	for _, e := range entries {
		dst = append(dst, byte(e.Type))
		dst = append(dst, e.ID[:]...)
		dst = binary.LittleEndian.AppendUint32(dst, e.Length)
		dst = binary.LittleEndian.AppendUint32(dst, e.RawLength)
	}
	return append(dst, make([]byte, pad)...)
}

// decodeHeader parses a header plaintext, checking everything that does
// not depend on the pack's size: version, count, each entry, that no blob
// is listed twice, and that the padding is all zeros. It returns the
// entries with offsets assigned in order (0 onwards; an offset that does
// not fit 32 bits is reported) and the padding's length.
func decodeHeader(p []byte) ([]Entry, uint64, error) {
	if len(p) < prefixSize {
		return nil, 0, fmt.Errorf("pack header of %d bytes is shorter than %d: %w", len(p), prefixSize, ErrInvalid)
	}
	if p[0] != Version {
		return nil, 0, fmt.Errorf("pack header version %d, want %d: %w", p[0], Version, ErrInvalid)
	}
	n := uint64(binary.LittleEndian.Uint32(p[1:]))
	if n == 0 || n > MaxBlobs || prefixSize+n*entrySize > uint64(len(p)) {
		return nil, 0, fmt.Errorf("pack header lists %d blobs in %d bytes (at most %d allowed, at least 1): %w", n, len(p), MaxBlobs, ErrInvalid)
	}
	entries := make([]Entry, n)
	var off uint64
	for i := range entries {
		q := p[prefixSize+i*entrySize:]
		e := &entries[i]
		e.Type = blob.Type(q[0])
		copy(e.ID[:], q[1:1+blob.IDSize])
		e.Length = binary.LittleEndian.Uint32(q[1+blob.IDSize:])
		e.RawLength = binary.LittleEndian.Uint32(q[1+blob.IDSize+4:])
		if off > MaxSize {
			return nil, 0, fmt.Errorf("pack header: blob %d starts beyond %d bytes: %w", i, MaxSize, ErrInvalid)
		}
		e.Offset = uint32(off)
		off += uint64(e.Length)
	}
	if err := checkEntries(entries); err != nil {
		return nil, 0, err
	}
	pad := p[prefixSize+n*entrySize:]
	for _, c := range pad {
		if c != 0 {
			return nil, 0, fmt.Errorf("pack header padding is not zero: %w", ErrInvalid)
		}
	}
	return entries, uint64(len(pad)), nil
}

// checkEntries checks that every entry has a known type, a non-zero ID and
// room for an envelope, and that no blob appears twice.
func checkEntries(entries []Entry) error {
	seen := make(map[blob.Handle]struct{}, len(entries))
	for i, e := range entries {
		h := blob.Handle{Type: e.Type, ID: e.ID}
		switch {
		case !e.Type.Valid():
			return fmt.Errorf("pack blob %d has unknown type %d: %w", i, e.Type, ErrInvalid)
		case e.ID.IsZero():
			return fmt.Errorf("pack blob %d has the zero ID: %w", i, ErrInvalid)
		case e.Length < crypt.Overhead:
			return fmt.Errorf("pack blob %d (%v) is %d bytes, shorter than an envelope: %w", i, h, e.Length, ErrInvalid)
		}
		if _, dup := seen[h]; dup {
			return fmt.Errorf("pack lists %v twice: %w", h, ErrInvalid)
		}
		seen[h] = struct{}{}
	}
	return nil
}

// checkLayout checks that the decoded entries exactly fill the bytes
// before the header envelope of headerLen bytes in a pack of size bytes,
// and that the padding is exactly what Padmé requires for that size.
func checkLayout(entries []Entry, pad, headerLen, size uint64) error {
	last := entries[len(entries)-1]
	blobs := size - trailerSize - headerLen
	if end := uint64(last.Offset) + uint64(last.Length); end != blobs {
		return fmt.Errorf("pack header lists %d bytes of blobs, the pack holds %d: %w", end, blobs, ErrInvalid)
	}
	if Padme(size-pad) != size {
		return fmt.Errorf("pack of %d bytes has %d bytes of padding, not its Padmé padding: %w", size, pad, ErrInvalid)
	}
	return nil
}

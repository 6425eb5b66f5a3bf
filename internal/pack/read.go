package pack

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/coffer-backup/coffer/internal/crypt"
)

// tailEntries is how many header entries ReadHeader's first read covers
// beyond the largest padding a pack of the given size can have; packs
// with more blobs take a second read.
const tailEntries = 4096

// ReadHeader reads, authenticates and checks the header of the pack of
// size bytes that r reads, and returns the pack's entries in pack order
// (docs/format.md §6.4). It first reads one bounded tail that holds the
// whole header of any pack with up to 4096 blobs, and reads the header
// separately only if it is longer. Every length is checked against the
// limits of the format before anything is allocated: a hostile store
// cannot make it allocate more than about 50 MB, and the largest header
// the format allows, 1,000,000 blobs, takes about 170 MB to decode. A header that does not
// authenticate yields an error wrapping crypt.ErrAuth; any other breach
// of the format, one wrapping ErrInvalid.
//
// The header is not bound to the pack's name (which hashes the header);
// a caller that must know the pack is the one named verifies its
// crypt.ContentID. Each blob remains bound to its own identity, so a
// header served with the wrong pack cannot pass off one blob as another.
func ReadHeader(r io.ReaderAt, size int64, o *crypt.Opener) ([]Entry, error) {
	if size < minPack || size > MaxSize {
		return nil, fmt.Errorf("pack of %d bytes is outside %d to %d: %w", size, minPack, MaxSize, ErrInvalid)
	}
	usize := uint64(size)
	tail, err := readAt(r, size-tailLen(usize), tailLen(usize))
	if err != nil {
		return nil, err
	}
	hl := uint64(binary.LittleEndian.Uint32(tail[len(tail)-trailerSize:]))
	if hl < minHeader || hl > usize-trailerSize || hl > maxHeaderLen(usize) {
		return nil, fmt.Errorf("pack of %d bytes claims a %d-byte header: %w", size, hl, ErrInvalid)
	}
	env, err := headerEnvelope(r, tail, hl, size)
	if err != nil {
		return nil, err
	}
	// Decrypt in place: the plaintext overwrites the ciphertext, which
	// follows the session id and nonce (docs/format.md §2.2).
	plain, err := o.Open(env[crypt.SessionSize+crypt.NonceSize:][:0], env, headerAD)
	if err != nil {
		return nil, fmt.Errorf("opening pack header: %w", err)
	}
	entries, pad, err := decodeHeader(plain)
	if err != nil {
		return nil, err
	}
	if err := checkLayout(entries, pad, hl, usize); err != nil {
		return nil, err
	}
	return entries, nil
}

// tailLen is the length of ReadHeader's first read from a pack of size
// bytes: the trailer, and a header of tailEntries entries with the largest
// padding a pack of that size may have.
func tailLen(size uint64) int64 {
	return int64(min(size, trailerSize+minHeader+tailEntries*entrySize+padmeMask(size)))
}

// maxHeaderLen bounds the header envelope of a pack of size bytes: the
// most entries allowed and the most padding such a pack can have.
func maxHeaderLen(size uint64) uint64 {
	return crypt.Overhead + maxEntries + padmeMask(size)
}

// headerEnvelope returns the hl-byte header envelope that ends just before
// the trailer, taking it from the tail already read if it is there.
func headerEnvelope(r io.ReaderAt, tail []byte, hl uint64, size int64) ([]byte, error) {
	end := uint64(len(tail)) - trailerSize
	if hl <= end {
		return tail[end-hl : end], nil
	}
	return readAt(r, size-trailerSize-int64(hl), int64(hl))
}

// readAt reads exactly n bytes at off.
func readAt(r io.ReaderAt, off, n int64) ([]byte, error) {
	b := make([]byte, n)
	got, err := r.ReadAt(b, off)
	if got == len(b) {
		return b, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("reading %d bytes of pack at offset %d: %w", n, off, err)
}

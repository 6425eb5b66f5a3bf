// Package pack assembles blob envelopes into packs, the objects that carry
// all file content and directory trees in the store, and reads a pack's
// encrypted header back (docs/format.md §6).
//
// A pack is the concatenation, in uniformly random order, of sealed blob
// envelopes, followed by the sealed header that lists them and a four-byte
// trailer giving the header's length. The header's plaintext ends in zero
// padding that rounds the whole pack up to a Padmé length, so the store
// learns from a pack's size only about log log of it, and nothing about the
// order of files from the position of blobs.
//
// The package does no I/O beyond the io.ReaderAt it is handed, and trusts
// nothing it reads: every length is bounded before anything is allocated.
package pack

import (
	"errors"
	"math/bits"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
)

// Limits of the pack format (docs/format.md §6).
const (
	// TargetSize is the size at which a writer cuts a pack: once the
	// envelopes added reach it, the pack is finished.
	TargetSize = 16 << 20

	// TreeTargetSize is the size at which a writer cuts a tree pack, a
	// pack that holds only tree blobs (docs/format.md §6.1): small, so
	// that a reader can fetch one whole to read the trees it holds.
	TreeTargetSize = 4 << 20

	// TreeReadSize is the size up to which a reader fetches a tree pack
	// whole rather than blob by blob (docs/format.md §6.7). It exceeds
	// TreeTargetSize plus a typical large tree, so nearly every tree pack
	// is read in one request, and bounds what one such read holds.
	TreeReadSize = 8 << 20

	// MaxSize is the largest pack a reader accepts. It exceeds TargetSize
	// plus the largest possible blob with room to spare, and bounds what a
	// hostile store can make a reader allocate for a header.
	MaxSize = 256 << 20

	// MaxBlobs is the largest number of blobs a header may list.
	MaxBlobs = 1_000_000

	// Version is the header format version this package writes and reads.
	Version = 1
)

// Wire sizes (docs/format.md §6.2).
const (
	trailerSize = 4                           // header envelope length, u32 LE
	prefixSize  = 1 + 4                       // version, blob count (u32 LE)
	entrySize   = 1 + blob.IDSize + 4 + 4     // type, ID, stored length, raw length
	minHeader   = crypt.Overhead + prefixSize // smallest header envelope
	minPack     = minHeader + trailerSize     // smallest possible pack, less its blobs
	maxEntries  = prefixSize + entrySize*MaxBlobs
)

// ErrInvalid is wrapped by every error about a pack whose layout or header
// breaks the format. Authentication failures wrap crypt.ErrAuth instead.
var ErrInvalid = errors.New("invalid pack")

// Entry locates one blob in a pack. Offset and Length delimit its envelope;
// RawLength is the length of the blob's plaintext before compression.
type Entry struct {
	Type      blob.Type
	ID        blob.ID
	Offset    uint32
	Length    uint32
	RawLength uint32
}

// headerAD is the associated data of every pack header envelope.
var headerAD = crypt.AD(crypt.ADPackHeader, nil)

// Padme returns the Padmé length of n (docs/format.md §6.3): n rounded up
// by clearing its low E−S bits, where E = ⌊log2 n⌋ and S = ⌊log2 E⌋ + 1.
// Lengths below 2 are returned unchanged. The result reveals O(log log n)
// bits of n and exceeds it by less than 1/2^S of n (at most 12%). If the
// result would be 2^64, which happens only for n > 2^64 − 2^57, Padme
// returns 0.
func Padme(n uint64) uint64 {
	m := padmeMask(n)
	return (n + m) &^ m
}

// padmeMask returns 2^(E−S) − 1 for n, the largest padding Padmé can add to
// any length with the same E as n, and so also an upper bound on the
// padding within a pack of size n.
func padmeMask(n uint64) uint64 {
	if n < 2 {
		return 0
	}
	e := bits.Len64(n) - 1 // ⌊log2 n⌋ ≥ 1
	s := bits.Len(uint(e)) // ⌊log2 e⌋ + 1
	return 1<<(e-s) - 1
}

// BlobAD returns the associated data a blob's envelope is sealed with:
// crypt.AD(crypt.ADBlobData or crypt.ADBlobTree, id), by type. It returns
// nil for an unknown type, which no envelope is sealed with.
func BlobAD(t blob.Type, id blob.ID) []byte {
	switch t {
	case blob.Data:
		return crypt.AD(crypt.ADBlobData, id[:])
	case blob.Tree:
		return crypt.AD(crypt.ADBlobTree, id[:])
	}
	return nil
}

// Target returns the size at which a writer cuts a pack of blobs of type
// t: tree blobs go to tree packs of their own (docs/format.md §6.1).
func Target(t blob.Type) int {
	if t == blob.Tree {
		return TreeTargetSize
	}
	return TargetSize
}

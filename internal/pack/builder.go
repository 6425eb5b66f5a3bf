package pack

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
)

// Builder collects blob envelopes for one pack. It holds their bytes in
// memory until Finish. It is not safe for concurrent use.
type Builder struct {
	buf     []byte   // envelopes in the order added, but those spilled
	size    int      // bytes of all envelopes added
	spill   [][]byte // by entry: the envelope if it is held apart from buf, else nil
	fixed   bool     // buf has a fixed room (Grow): what does not fit is spilled
	entries []Entry  // Offset is into buf, for an envelope not spilled
	seen    map[blob.Handle]struct{}
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{seen: make(map[blob.Handle]struct{})}
}

// Add appends a copy of the envelope of the blob of type t and identifier
// id, whose plaintext before compression is rawLen bytes. The envelope must
// have been sealed with the associated data crypt.AD(crypt.ADBlobData or
// crypt.ADBlobTree, id[:]). Adding a blob the Builder already holds does
// nothing, so a pack never lists a blob twice.
func (b *Builder) Add(t blob.Type, id blob.ID, envelope []byte, rawLen uint32) {
	h := blob.Handle{Type: t, ID: id}
	if _, dup := b.seen[h]; dup {
		return
	}
	b.seen[h] = struct{}{}
	b.entries = append(b.entries, Entry{
		Type: t, ID: id,
		Offset:    uint32(len(b.buf)),
		Length:    uint32(len(envelope)),
		RawLength: rawLen,
	})
	b.size += len(envelope)
	if b.fixed && len(b.buf)+len(envelope) > cap(b.buf) {
		b.spill = append(b.spill, bytes.Clone(envelope))
		return
	}
	b.spill = append(b.spill, nil)
	b.buf = append(b.buf, envelope...)
}

// Size returns the number of envelope bytes added so far. A writer
// finishes the pack once Size reaches TargetSize.
func (b *Builder) Size() int { return b.size }

// Room returns how many more envelope bytes one more blob may have without
// the finished pack growing: the padding Finish would add now, less the
// blob's header entry (docs/format.md §6.1, §6.3). It is negative when not
// even an empty envelope fits.
func (b *Builder) Room() int {
	u := b.unpadded()
	return int(Padme(u)-u) - entrySize
}

// unpadded returns the length of the pack Finish would write now, before
// its padding (docs/format.md §6.3: U).
func (b *Builder) unpadded() uint64 {
	return uint64(b.size) + crypt.Overhead + prefixSize + uint64(len(b.entries))*entrySize + trailerSize
}

// Count returns the number of blobs added so far.
func (b *Builder) Count() int { return len(b.entries) }

// Grow gives the Builder a buffer of n more envelope bytes and fixes its
// room: from then on it never reallocates the buffer, and holds an
// envelope that does not fit in an allocation of its own. A writer that
// grows a Builder to the target size thus holds the pack's bytes with no
// slack: only the envelope that crosses the target is held apart.
func (b *Builder) Grow(n int) {
	b.buf = slices.Grow(b.buf, n)
	b.fixed = true
}

// Use is Grow into buf, an empty slice whose capacity is the room, for a
// caller that chooses the memory (repo advises huge pages for it).
func (b *Builder) Use(buf []byte) {
	b.buf = buf[:0]
	b.fixed = true
}

// Reset empties the Builder for the next pack, keeping its buffer and
// dropping the envelopes held apart.
func (b *Builder) Reset() {
	b.buf = b.buf[:0]
	clear(b.spill)
	b.spill = b.spill[:0]
	b.size = 0
	b.entries = b.entries[:0]
	clear(b.seen)
}

// Finish lays the envelopes out in a uniformly random order (drawn from
// crypto/rand), appends the header sealed by s with associated data
// crypt.AD(crypt.ADPackHeader, nil), its Padmé padding and the trailer, and
// returns the pack's bytes and its entries in pack order with their final
// offsets (docs/format.md §6.1). The pack is named crypt.ContentID(pack).
// The returned slices are the caller's; the Builder keeps its contents
// until Reset.
func (b *Builder) Finish(s *crypt.Sealer) (pack []byte, entries []Entry, err error) {
	parts, entries, err := b.FinishParts(s)
	if err != nil {
		return nil, nil, err
	}
	return bytes.Join(parts, nil), entries, nil
}

// FinishParts is Finish without the copy: the pack is the concatenation of
// parts, which alias the Builder's memory (valid until Reset) except for
// the last, which holds the sealed header and trailer. Writers stream the
// parts, so a pack is never held twice in memory.
func (b *Builder) FinishParts(s *crypt.Sealer) (parts [][]byte, entries []Entry, err error) {
	n := len(b.entries)
	if n == 0 {
		return nil, nil, errors.New("finishing a pack: no blobs added")
	}
	if n > MaxBlobs {
		return nil, nil, fmt.Errorf("finishing a pack: %d blobs, at most %d allowed", n, MaxBlobs)
	}
	unpadded := b.unpadded()
	size := Padme(unpadded)
	if size > MaxSize {
		return nil, nil, fmt.Errorf("finishing a pack: %d bytes exceed the %d-byte limit", size, MaxSize)
	}
	if err := checkEntries(b.entries); err != nil {
		return nil, nil, fmt.Errorf("finishing a pack: %w", err)
	}
	parts, entries = b.shuffle()
	plain := appendHeader(nil, entries, size-unpadded)
	tail, err := s.Seal(nil, plain, headerAD)
	if err != nil {
		return nil, nil, fmt.Errorf("sealing pack header: %w", err)
	}
	tail = binary.LittleEndian.AppendUint32(tail, uint32(crypt.Overhead+len(plain)))
	return append(parts, tail), entries, nil
}

// shuffle orders the envelopes uniformly at random and returns them, as
// slices of the Builder's memory, with the entries in that order and their
// offsets in the pack.
func (b *Builder) shuffle() ([][]byte, []Entry) {
	parts := make([][]byte, len(b.entries), len(b.entries)+1)
	for i, e := range b.entries {
		parts[i] = b.spill[i]
		if parts[i] == nil {
			parts[i] = b.buf[e.Offset : e.Offset+e.Length]
		}
	}
	entries := slices.Clone(b.entries)
	mrand.New(cryptoSource{}).Shuffle(len(entries), func(i, j int) {
		entries[i], entries[j] = entries[j], entries[i]
		parts[i], parts[j] = parts[j], parts[i]
	})
	var off uint32
	for i, e := range entries {
		entries[i].Offset = off
		off += e.Length
	}
	return parts, entries
}

// cryptoSource draws math/rand/v2's random numbers from crypto/rand, so a
// shuffle's outcome cannot be predicted from any earlier output.
type cryptoSource struct{}

func (cryptoSource) Uint64() uint64 {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand guarantees it since Go 1.24)
	return binary.LittleEndian.Uint64(b[:])
}

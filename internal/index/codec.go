// Package index maps every blob of a repository to the pack that stores it.
//
// On the store the map lives in index objects (docs/format.md §7): each is
// the deterministic encoding of a File (Encode, Decode), sealed in the
// envelope of §2.2 with associated data crypt.AD(crypt.ADIndex, nil) and
// named by the SHA-256 of its sealed bytes. Backups write one for the packs
// they add; prune writes one that Supersedes the objects it replaces.
//
// In memory, a Master merges the index objects for the backup's hot path:
// one Lookup per chunk and per tree. To keep a repository of ten million
// blobs well under 500 MiB it keeps, per entry, only the first 16 bytes of
// the blob ID (the Prefix) and 16 bytes of location; see Master for the
// layout and for why a prefix is safe. Whoever needs full blob IDs per pack
// (prune deciding what to repack, check verifying every blob) reads the
// index objects again and decodes them one at a time, rather than asking
// Master.
package index

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/pack"
)

// Sizes and limits of the encoding (docs/format.md §7.1).
const (
	// MaxObjectSize is the largest sealed index object a reader accepts,
	// and so the limit to pass to store.ReadAll.
	MaxObjectSize = 64 << 20
	// MaxEncodedSize is the largest plaintext encoding: what fits in
	// MaxObjectSize once sealed. Writers start a new index object before
	// File.EncodedSize would exceed it.
	MaxEncodedSize = MaxObjectSize - crypt.Overhead

	version        = 1              // unsigned
	versionSigned  = 2              // with a signature trailer (§7.2)
	headerSize     = len(magic) + 1 // magic, version
	countSize      = 4              // every count is a little-endian uint32
	packHeaderSize = blob.IDSize + countSize
	blobRecordSize = 1 + blob.IDSize + 3*4 // type, ID, offset, length, raw length
	// minPackSize is the smallest pack record: a pack lists at least one blob.
	minPackSize = packHeaderSize + blobRecordSize
)

// magic opens every index object's plaintext, followed by the version byte.
var magic = [4]byte{'C', 'I', 'D', 'X'}

// ErrFormat is wrapped by every error that reports a malformed index object.
var ErrFormat = errors.New("malformed index object")

// Blob locates one blob inside a pack.
type Blob struct {
	Type      blob.Type
	ID        blob.ID
	Offset    uint32 // first byte of the blob's envelope in the pack
	Length    uint32 // length of the envelope as stored in the pack
	RawLength uint32 // plaintext length before compression
}

// Pack lists the blobs stored in one pack, named by the SHA-256 of the pack.
type Pack struct {
	ID    blob.ID
	Blobs []Blob
}

// File is the content of one index object.
type File struct {
	Packs []Pack
	// Supersedes names index objects whose every entry this one repeats
	// or deliberately drops (prune). Readers ignore a superseded object.
	Supersedes []blob.ID
	// Signer is the DeviceID (32 hex digits) of the device that signed
	// the object, and Sig its Ed25519 signature (Sign, Verify); both are
	// empty in an unsigned (version 1) object.
	Signer string
	Sig    []byte

	// signedBody is, in a File that Decode read, the bytes before its
	// signature (VerifyRead).
	signedBody []byte
}

// EncodedSize returns len(f.Encode()) of f once signed, without encoding:
// the unpadded size, 13 + 32 per superseded object + Pack.EncodedSize of
// each pack + SignatureSize, plus the padding. An unsigned encoding is no
// longer. Padding never takes an encoding past MaxEncodedSize that was not
// past it before (MaxObjectSize is its own Padmé length), so a writer can
// fill an object by adding up unpadded sizes.
func (f *File) EncodedSize() int { return padded(f.unpaddedSize()) }

func (f *File) unpaddedSize() int {
	n := headerSize + countSize + len(f.Supersedes)*blob.IDSize + countSize + SignatureSize
	for _, p := range f.Packs {
		n += p.EncodedSize()
	}
	return n
}

// EncodedSize returns the bytes p's record takes in an index object.
func (p *Pack) EncodedSize() int { return packHeaderSize + len(p.Blobs)*blobRecordSize }

// padded returns the length of a plaintext of n unpadded bytes once padded
// so that its envelope is a Padmé length (docs/format.md §7.1), as packs
// are (§6.3).
func padded(n int) int { return int(pack.Padme(uint64(n)+crypt.Overhead)) - crypt.Overhead }

// Encode returns the canonical encoding of f (docs/format.md §7.1): the same
// set of packs, blobs and superseded objects always yields the same bytes,
// whatever their order in f, which Encode leaves unchanged. A File that
// breaks the rules of §7.1 (say, overlapping blobs) still encodes, to bytes
// that Decode refuses: a writer that did not build f from packs it wrote
// itself should Decode the result before storing it.
func (f *File) Encode() []byte {
	v := byte(version)
	if f.Signer != "" {
		v = versionSigned
	}
	b := f.body(v)
	if f.Signer != "" {
		id, _ := hex.DecodeString(f.Signer) // checked by Sign and Decode
		b = append(append(b, id...), f.Sig...)
	}
	return append(b, make([]byte, padded(len(b))-len(b))...)
}

// body returns the encoding up to the signature trailer, with version v.
func (f *File) body(v byte) []byte {
	le := binary.LittleEndian
	b := make([]byte, 0, f.EncodedSize())
	b = append(b, magic[:]...)
	b = append(b, v)
	b = le.AppendUint32(b, uint32(len(f.Supersedes)))
	for _, id := range sortedIDs(f.Supersedes) {
		b = append(b, id[:]...)
	}
	packs := slices.Clone(f.Packs)
	slices.SortStableFunc(packs, func(x, y Pack) int { return compareID(&x.ID, &y.ID) })
	b = le.AppendUint32(b, uint32(len(packs)))
	for _, p := range packs {
		b = append(b, p.ID[:]...)
		b = le.AppendUint32(b, uint32(len(p.Blobs)))
		blobs := slices.Clone(p.Blobs)
		slices.SortStableFunc(blobs, func(x, y Blob) int { return cmp.Compare(x.Offset, y.Offset) })
		for _, bl := range blobs {
			b = append(b, byte(bl.Type))
			b = append(b, bl.ID[:]...)
			b = le.AppendUint32(b, bl.Offset)
			b = le.AppendUint32(b, bl.Length)
			b = le.AppendUint32(b, bl.RawLength)
		}
	}
	return b
}

func sortedIDs(ids []blob.ID) []blob.ID {
	s := slices.Clone(ids)
	slices.SortFunc(s, func(x, y blob.ID) int { return compareID(&x, &y) })
	return s
}

func compareID(x, y *blob.ID) int { return bytes.Compare(x[:], y[:]) }

// Decode parses an index object's plaintext. It accepts exactly the
// canonical encodings of §7.1, so Decode(b).Encode() equals b whenever
// Decode succeeds. Every count is checked against the bytes that remain
// before anything is allocated, so hostile input allocates at most a small
// multiple of its own length. Errors wrap ErrFormat.
func Decode(b []byte) (*File, error) {
	if len(b) > MaxEncodedSize {
		return nil, fmt.Errorf("%d bytes, over the %d-byte limit: %w", len(b), MaxEncodedSize, ErrFormat)
	}
	d := decoder{b: b}
	if err := d.header(); err != nil {
		return nil, err
	}
	sup, err := d.supersedes()
	if err != nil {
		return nil, err
	}
	packs, err := d.packs()
	if err != nil {
		return nil, err
	}
	f := &File{Packs: packs, Supersedes: sup}
	if d.signed {
		f.signedBody = b[:d.off]
		if err := d.signature(f); err != nil {
			return nil, err
		}
	}
	if err := d.padding(); err != nil {
		return nil, err
	}
	return f, nil
}

// decoder reads the encoding of §7.1 from b, front to back.
type decoder struct {
	b      []byte
	off    int
	signed bool // version 2: a signature trailer follows the packs
}

func (d *decoder) take(n int) ([]byte, error) {
	if len(d.b)-d.off < n {
		return nil, fmt.Errorf("truncated at byte %d: %w", len(d.b), ErrFormat)
	}
	s := d.b[d.off : d.off+n]
	d.off += n
	return s, nil
}

func (d *decoder) u32() (uint32, error) {
	s, err := d.take(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(s), nil
}

// id reads a 32-byte identifier, refusing the zero ID, which names nothing.
func (d *decoder) id() (blob.ID, error) {
	s, err := d.take(blob.IDSize)
	if err != nil {
		return blob.ID{}, err
	}
	id := blob.ID(s)
	if id.IsZero() {
		return id, fmt.Errorf("zero ID at byte %d: %w", d.off-blob.IDSize, ErrFormat)
	}
	return id, nil
}

// count reads a record count and refuses one whose records, at least
// minSize bytes each, could not fit in the bytes that remain.
func (d *decoder) count(minSize int) (int, error) {
	n, err := d.u32()
	if err != nil {
		return 0, err
	}
	if uint64(n)*uint64(minSize) > uint64(len(d.b)-d.off) {
		return 0, fmt.Errorf("count %d at byte %d exceeds the remaining %d bytes: %w", n, d.off-countSize, len(d.b)-d.off, ErrFormat)
	}
	return int(n), nil
}

func (d *decoder) header() error {
	h, err := d.take(headerSize)
	if err != nil {
		return err
	}
	if !bytes.Equal(h[:len(magic)], magic[:]) {
		return fmt.Errorf("bad magic %x: %w", h[:len(magic)], ErrFormat)
	}
	switch h[len(magic)] {
	case version:
	case versionSigned:
		d.signed = true
	default:
		return fmt.Errorf("unsupported version %d: %w", h[len(magic)], ErrFormat)
	}
	return nil
}

// signature reads the signer and signature of a version 2 object.
func (d *decoder) signature(f *File) error {
	s, err := d.take(SignatureSize)
	if err != nil {
		return err
	}
	f.Signer, f.Sig = hex.EncodeToString(s[:signerSize]), bytes.Clone(s[signerSize:])
	return nil
}

// padding checks that the rest of the input is exactly the zero padding
// that Encode appends.
func (d *decoder) padding() error {
	if want := padded(d.off); len(d.b) != want {
		return fmt.Errorf("%d bytes after %d of content, want %d in all: %w", len(d.b)-d.off, d.off, want, ErrFormat)
	}
	for _, c := range d.b[d.off:] {
		if c != 0 {
			return fmt.Errorf("non-zero padding: %w", ErrFormat)
		}
	}
	return nil
}

func (d *decoder) supersedes() ([]blob.ID, error) {
	n, err := d.count(blob.IDSize)
	if err != nil {
		return nil, err
	}
	ids := make([]blob.ID, n)
	for i := range ids {
		if ids[i], err = d.id(); err != nil {
			return nil, fmt.Errorf("superseded object %d: %w", i, err)
		}
		if i > 0 && compareID(&ids[i-1], &ids[i]) >= 0 {
			return nil, fmt.Errorf("superseded object %d: not in strictly ascending order: %w", i, ErrFormat)
		}
	}
	return ids, nil
}

func (d *decoder) packs() ([]Pack, error) {
	n, err := d.count(minPackSize)
	if err != nil {
		return nil, err
	}
	packs := make([]Pack, n)
	for i := range packs {
		if packs[i], err = d.pack(); err != nil {
			return nil, fmt.Errorf("pack %d: %w", i, err)
		}
		if i > 0 && compareID(&packs[i-1].ID, &packs[i].ID) >= 0 {
			return nil, fmt.Errorf("pack %d: not in strictly ascending order of ID: %w", i, ErrFormat)
		}
	}
	return packs, nil
}

func (d *decoder) pack() (Pack, error) {
	id, err := d.id()
	if err != nil {
		return Pack{}, err
	}
	n, err := d.count(blobRecordSize)
	if err != nil {
		return Pack{}, err
	}
	if n == 0 {
		return Pack{}, fmt.Errorf("pack %s lists no blobs: %w", id, ErrFormat)
	}
	blobs := make([]Blob, n)
	var end uint64 // first byte after the previous blob
	for i := range blobs {
		if blobs[i], err = d.blob(); err != nil {
			return Pack{}, fmt.Errorf("blob %d: %w", i, err)
		}
		if uint64(blobs[i].Offset) < end {
			return Pack{}, fmt.Errorf("blob %d at offset %d overlaps or precedes the previous blob: %w", i, blobs[i].Offset, ErrFormat)
		}
		end = uint64(blobs[i].Offset) + uint64(blobs[i].Length)
	}
	return Pack{ID: id, Blobs: blobs}, nil
}

func (d *decoder) blob() (Blob, error) {
	s, err := d.take(blobRecordSize)
	if err != nil {
		return Blob{}, err
	}
	le := binary.LittleEndian
	bl := Blob{
		Type:      blob.Type(s[0]),
		ID:        blob.ID(s[1 : 1+blob.IDSize]),
		Offset:    le.Uint32(s[1+blob.IDSize:]),
		Length:    le.Uint32(s[5+blob.IDSize:]),
		RawLength: le.Uint32(s[9+blob.IDSize:]),
	}
	switch {
	case !bl.Type.Valid():
		return Blob{}, fmt.Errorf("unknown blob type %d: %w", s[0], ErrFormat)
	case bl.ID.IsZero():
		return Blob{}, fmt.Errorf("zero blob ID: %w", ErrFormat)
	case bl.Length < crypt.Overhead:
		return Blob{}, fmt.Errorf("length %d is below the %d-byte envelope overhead: %w", bl.Length, crypt.Overhead, ErrFormat)
	case uint64(bl.Offset)+uint64(bl.Length) > math.MaxUint32:
		return Blob{}, fmt.Errorf("offset %d + length %d overflows 32 bits: %w", bl.Offset, bl.Length, ErrFormat)
	}
	return bl, nil
}

// Disjoint splits a pack's listing into as few listings as it can, each
// in ascending order of offset without overlaps (rule 4 of docs/format.md
// §7.1), so that a writer can record copies that overlap in separate index
// objects. It takes the blobs greedily in order of offset.
func Disjoint(blobs []Blob) [][]Blob {
	sorted := slices.Clone(blobs)
	slices.SortStableFunc(sorted, func(x, y Blob) int { return cmp.Compare(x.Offset, y.Offset) })
	var out [][]Blob
	for _, b := range sorted {
		i := slices.IndexFunc(out, func(l []Blob) bool {
			last := l[len(l)-1]
			return uint64(last.Offset)+uint64(last.Length) <= uint64(b.Offset)
		})
		if i < 0 {
			out = append(out, nil)
			i = len(out) - 1
		}
		out[i] = append(out[i], b)
	}
	return out
}

// Split spreads pack listings over as few Files as the size limit
// (MaxEncodedSize) allows, given that one File may list a pack only once:
// a second listing of a pack goes to another File. Only the last File
// names supersedes, so that a writer storing them in order supersedes the
// old objects only once everything that replaces them is stored
// (docs/format.md §7.3). No listing, no File.
func Split(packs []Pack, supersedes []blob.ID) []*File {
	if len(packs) == 0 {
		return nil
	}
	var files []*File
	for _, layer := range layers(packs) {
		files = append(files, fill(layer)...)
	}
	cur := files[len(files)-1]
	if cur.EncodedSize()+len(supersedes)*blob.IDSize > MaxEncodedSize {
		cur = &File{}
		files = append(files, cur)
	}
	cur.Supersedes = supersedes
	return files
}

// layers puts the first listing of each pack in the first layer, a second
// listing of the same pack in the second, and so on.
func layers(packs []Pack) [][]Pack {
	count := make(map[blob.ID]int)
	var out [][]Pack
	for _, p := range packs {
		i := count[p.ID]
		count[p.ID]++
		if i == len(out) {
			out = append(out, nil)
		}
		out[i] = append(out[i], p)
	}
	return out
}

// fill spreads packs, each listed once, over as few Files as the size
// limit allows.
func fill(packs []Pack) []*File {
	empty := (&File{}).EncodedSize()
	files := []*File{{}}
	size := empty
	for _, p := range packs {
		n := (&File{Packs: []Pack{p}}).EncodedSize() - empty
		if cur := files[len(files)-1]; len(cur.Packs) > 0 && size+n > MaxEncodedSize {
			files = append(files, &File{})
			size = empty
		}
		cur := files[len(files)-1]
		cur.Packs = append(cur.Packs, p)
		size += n
	}
	return files
}

// The signature trailer of a version 2 index object (docs/format.md §7.2).
const (
	signerSize = 16 // raw bytes of a DeviceID
	// SignatureSize is the trailer's size: signer and Ed25519 signature.
	SignatureSize  = signerSize + ed25519.SignatureSize
	labelSignature = "coffer v1 index signature"
)

// signed returns what a signature covers: label || 0x00 || account ||
// the version 2 encoding up to the trailer.
func (f *File) signed(account string) []byte {
	return signedMessage(account, f.body(versionSigned))
}

// signedMessage is what an index object's signature covers (docs/format.md
// §7.2), given its body.
func signedMessage(account string, body []byte) []byte {
	return crypt.AD(labelSignature, append([]byte(account), body...))
}

// Sign signs f as device id (32 hex digits) of account with key, so that
// readers can tell which device wrote it (docs/format.md §7.2).
func (f *File) Sign(account, id string, key ed25519.PrivateKey) error {
	if raw, err := hex.DecodeString(id); err != nil || len(raw) != signerSize {
		return fmt.Errorf("signer %q is not a DeviceID", id)
	}
	f.Signer = id
	f.Sig = ed25519.Sign(key, f.signed(account))
	return nil
}

// Verify reports whether f carries a signature of account's index by the
// holder of pub.
func (f *File) Verify(account string, pub ed25519.PublicKey) bool {
	return f.Signer != "" && len(f.Sig) == ed25519.SignatureSize && ed25519.Verify(pub, f.signed(account), f.Sig)
}

// VerifyRead is Verify for a File that Decode returned and nothing has
// changed since: it checks the signature over the bytes Decode read before
// it, which for the canonical encoding Encode writes are the body the
// signature covers (docs/format.md §7.2), so a loaded index is not encoded
// again to be checked; a non-canonical encoding falls back to Verify. The
// bytes authenticated are those Decode parsed into f. It reports false
// for a File Decode did not return.
func (f *File) VerifyRead(account string, pub ed25519.PublicKey) bool {
	if f.signedBody == nil || f.Signer == "" || len(f.Sig) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(pub, signedMessage(account, f.signedBody), f.Sig) || f.Verify(account, pub)
}

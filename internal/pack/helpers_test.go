package pack

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
)

// testRoot is the root key of every test pack, golden one included: the
// bytes 0x00 to 0x1f.
var testRoot = func() (k crypt.Key) {
	for i := range k {
		k[i] = byte(i)
	}
	return k
}()

type keys struct {
	s *crypt.Sealer
	o *crypt.Opener
	h *crypt.Hasher
}

func testKeys(tb testing.TB) keys {
	tb.Helper()
	k, err := crypt.DeriveKeys(&testRoot)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := crypt.NewSealer(&k.Data)
	if err != nil {
		tb.Fatal(err)
	}
	return keys{s: s, o: crypt.NewOpener(&k.Data), h: crypt.NewHasher(&k.ID)}
}

// testBlob is a blob's plaintext; its envelope seals the plaintext as is.
type testBlob struct {
	typ   blob.Type
	plain []byte
}

// numbered returns n blobs of the given size with distinct contents,
// alternating data and tree.
func numbered(n, size int) []testBlob {
	out := make([]testBlob, n)
	for i := range out {
		p := bytes.Repeat([]byte{byte(i)}, size)
		binary.LittleEndian.PutUint32(p, uint32(i))
		out[i] = testBlob{typ: blob.Type(1 + i%2), plain: p}
	}
	return out
}

// seal returns the blob's ID and its envelope.
func (k keys) seal(tb testing.TB, b testBlob) (blob.ID, []byte) {
	tb.Helper()
	id := k.h.Sum(b.typ, b.plain)
	env, err := k.s.Seal(nil, b.plain, BlobAD(b.typ, id))
	if err != nil {
		tb.Fatal(err)
	}
	return id, env
}

// build packs the blobs and returns the pack, its entries and each blob's
// plaintext by handle.
func (k keys) build(tb testing.TB, blobs []testBlob) ([]byte, []Entry, map[blob.Handle][]byte) {
	tb.Helper()
	b := NewBuilder()
	plains := make(map[blob.Handle][]byte)
	for _, x := range blobs {
		id, env := k.seal(tb, x)
		b.Add(x.typ, id, env, uint32(len(x.plain)))
		plains[blob.Handle{Type: x.typ, ID: id}] = x.plain
	}
	p, entries, err := b.Finish(k.s)
	if err != nil {
		tb.Fatal(err)
	}
	return p, entries, plains
}

// assemble lays out a pack from raw blob bytes and a header plaintext of
// the test's choosing, sealed with the right key and associated data.
func (k keys) assemble(tb testing.TB, blobs, plain []byte) []byte {
	tb.Helper()
	p, err := k.s.Seal(bytes.Clone(blobs), plain, headerAD)
	if err != nil {
		tb.Fatal(err)
	}
	return binary.LittleEndian.AppendUint32(p, uint32(crypt.Overhead+len(plain)))
}

// openAll opens every blob the entries list and checks it against plains.
func (k keys) openAll(p []byte, entries []Entry, plains map[blob.Handle][]byte) error {
	if len(entries) != len(plains) {
		return fmt.Errorf("%d entries for %d blobs", len(entries), len(plains))
	}
	for _, e := range entries {
		got, err := k.o.Open(nil, p[e.Offset:e.Offset+e.Length], BlobAD(e.Type, e.ID))
		if err != nil {
			return fmt.Errorf("blob %x at %d: %w", e.ID[:4], e.Offset, err)
		}
		want, ok := plains[blob.Handle{Type: e.Type, ID: e.ID}]
		if !ok || !bytes.Equal(got, want) || int(e.RawLength) != len(want) {
			return fmt.Errorf("blob %x at %d: wrong content or raw length", e.ID[:4], e.Offset)
		}
	}
	return nil
}

// countingReader counts the reads made through it.
type countingReader struct {
	*bytes.Reader
	reads int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	return c.Reader.ReadAt(p, off)
}

func readHeader(k keys, p []byte) ([]Entry, error) {
	return ReadHeader(bytes.NewReader(p), int64(len(p)), k.o)
}

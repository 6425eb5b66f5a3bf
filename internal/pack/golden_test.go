package pack

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/compress"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/pycheck"
)

var update = flag.Bool("update", false, "rewrite testdata/v1.pack and testdata/v1.json")

// golden describes testdata/v1.pack, a known-answer pack for independent
// implementations (docs/format.md §6.5).
type golden struct {
	RootKey string        `json:"root_key"` // account root key, hex
	Name    blob.ID       `json:"name"`     // SHA-256 of the pack
	Size    int           `json:"size"`
	Entries []goldenEntry `json:"entries"` // in pack order
}

// goldenEntry is one blob of the golden pack. As in a real store, the
// envelope holds the blob's framed form (docs/format.md §3.2): Framed is
// the envelope's plaintext and Plaintext the blob's, both hexadecimal.
type goldenEntry struct {
	Type      blob.Type `json:"type"`
	ID        blob.ID   `json:"id"`
	Offset    uint32    `json:"offset"`
	Length    uint32    `json:"length"`
	RawLength uint32    `json:"raw_length"`
	Framed    string    `json:"framed"`
	Plaintext string    `json:"plaintext"`
}

// goldenBlobs are the blobs of the golden pack: an empty one, raw frames,
// and one that compresses (a zstd frame).
var goldenBlobs = []testBlob{
	{blob.Data, []byte("hello, coffer\n")},
	{blob.Data, bytes.Repeat([]byte("0123456789"), 10)},
	{blob.Tree, []byte("a tree blob's bytes")},
	{blob.Data, nil},
}

func writeGolden(t *testing.T, k keys) {
	framed := make(map[blob.Handle][]byte)
	b := NewBuilder()
	for _, x := range goldenBlobs {
		f, err := compress.Encode(nil, x.plain)
		if err != nil {
			t.Fatal(err)
		}
		id := k.h.Sum(x.typ, x.plain)
		env, err := k.s.Seal(nil, f, BlobAD(x.typ, id))
		if err != nil {
			t.Fatal(err)
		}
		b.Add(x.typ, id, env, uint32(len(x.plain)))
		framed[blob.Handle{Type: x.typ, ID: id}] = f
	}
	p, entries, err := b.Finish(k.s)
	if err != nil {
		t.Fatal(err)
	}
	g := golden{RootKey: hex.EncodeToString(testRoot[:]), Name: crypt.ContentID(p), Size: len(p)}
	for _, e := range entries {
		f := framed[blob.Handle{Type: e.Type, ID: e.ID}]
		plain, err := compress.Decode(nil, f, int(e.RawLength))
		if err != nil {
			t.Fatal(err)
		}
		g.Entries = append(g.Entries, goldenEntry{e.Type, e.ID, e.Offset, e.Length, e.RawLength,
			hex.EncodeToString(f), hex.EncodeToString(plain)})
	}
	js, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/v1.pack", p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/v1.json", append(js, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGolden reads the known-answer pack: its name, its entries, and each
// blob opened under the keys derived from the stated root key, unframed
// and checked against its ID, as a reader of a real store does.
func TestGolden(t *testing.T) {
	k := testKeys(t)
	if *update {
		writeGolden(t, k)
	}
	p, err := os.ReadFile("testdata/v1.pack")
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile("testdata/v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(js, &g); err != nil {
		t.Fatal(err)
	}
	if g.RootKey != hex.EncodeToString(testRoot[:]) || g.Size != len(p) || g.Name != crypt.ContentID(p) {
		t.Fatal("testdata/v1.json does not describe testdata/v1.pack")
	}
	got, err := readHeader(k, p)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]Entry, len(g.Entries))
	framed := make(map[blob.Handle][]byte)
	markers := make(map[byte]bool)
	for i, e := range g.Entries {
		want[i] = Entry{e.Type, e.ID, e.Offset, e.Length, e.RawLength}
		f, err := hex.DecodeString(e.Framed)
		if err != nil {
			t.Fatalf("entry %d: framed: %v", i, err)
		}
		plain, err := hex.DecodeString(e.Plaintext)
		if err != nil {
			t.Fatalf("entry %d: plaintext: %v", i, err)
		}
		framed[blob.Handle{Type: e.Type, ID: e.ID}] = f
		if got, err := compress.Decode(nil, f, int(e.RawLength)); err != nil || !bytes.Equal(got, plain) {
			t.Errorf("entry %d: the frame does not decode to the plaintext (%v)", i, err)
		}
		if k.h.Sum(e.Type, plain) != e.ID {
			t.Errorf("entry %d: ID is not the keyed hash of its plaintext", i)
		}
		markers[f[0]] = true
	}
	if !markers[0] || !markers[1] {
		t.Error("the golden pack should hold both raw and zstd frames")
	}
	if !slices.Equal(got, want) {
		t.Fatalf("entries:\n got %+v\nwant %+v", got, want)
	}
	if err := k.openFramed(p, got, framed); err != nil {
		t.Fatal(err)
	}
}

// openFramed opens every blob the entries list and checks its envelope's
// plaintext against framed.
func (k keys) openFramed(p []byte, entries []Entry, framed map[blob.Handle][]byte) error {
	if len(entries) != len(framed) {
		return fmt.Errorf("%d entries for %d blobs", len(entries), len(framed))
	}
	for _, e := range entries {
		got, err := k.o.Open(nil, p[e.Offset:e.Offset+e.Length], BlobAD(e.Type, e.ID))
		if err != nil {
			return fmt.Errorf("blob %x at %d: %w", e.ID[:4], e.Offset, err)
		}
		if want, ok := framed[blob.Handle{Type: e.Type, ID: e.ID}]; !ok || !bytes.Equal(got, want) {
			return fmt.Errorf("blob %x at %d: wrong framed content", e.ID[:4], e.Offset)
		}
	}
	return nil
}

// TestGoldenPython runs the independent reader of testdata/v1.pack,
// written from docs/format.md alone (testdata/check_v1.py).
func TestGoldenPython(t *testing.T) {
	pycheck.Run(t, ".", "testdata/check_v1.py")
}

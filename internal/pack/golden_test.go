package pack

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
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

type goldenEntry struct {
	Type      blob.Type `json:"type"`
	ID        blob.ID   `json:"id"`
	Offset    uint32    `json:"offset"`
	Length    uint32    `json:"length"`
	RawLength uint32    `json:"raw_length"`
	Plaintext string    `json:"plaintext"` // the envelope's plaintext
}

func writeGolden(t *testing.T, k keys) {
	blobs := []testBlob{
		{blob.Data, []byte("hello, coffer\n")},
		{blob.Data, bytes.Repeat([]byte("0123456789"), 10)},
		{blob.Tree, []byte("a tree blob's bytes")},
		{blob.Data, nil},
	}
	p, entries, plains := k.build(t, blobs)
	g := golden{RootKey: hex.EncodeToString(testRoot[:]), Name: crypt.ContentID(p), Size: len(p)}
	for _, e := range entries {
		g.Entries = append(g.Entries, goldenEntry{e.Type, e.ID, e.Offset, e.Length, e.RawLength,
			string(plains[blob.Handle{Type: e.Type, ID: e.ID}])})
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
// blob opened under the keys derived from the stated root key.
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
	plains := make(map[blob.Handle][]byte)
	for i, e := range g.Entries {
		want[i] = Entry{e.Type, e.ID, e.Offset, e.Length, e.RawLength}
		plains[blob.Handle{Type: e.Type, ID: e.ID}] = []byte(e.Plaintext)
		if k.h.Sum(e.Type, []byte(e.Plaintext)) != e.ID {
			t.Errorf("entry %d: ID is not the keyed hash of its plaintext", i)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("entries:\n got %+v\nwant %+v", got, want)
	}
	if err := k.openAll(p, got, plains); err != nil {
		t.Fatal(err)
	}
}

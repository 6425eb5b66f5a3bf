package chunker

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the implementation")

const vectorsFile = "testdata/vectors.json"

// vectorFile is the layout of testdata/vectors.json (docs/format.md §3.1).
type vectorFile struct {
	Comment []string `json:"comment"`
	Vectors []vector `json:"vectors"`
}

// vector is one known answer: the chunk lengths of a deterministic input
// under the gear table of a fixed key.
type vector struct {
	Name      string   `json:"name"`
	GearKey   string   `json:"gear_key"`   // hex; input of crypt.GearTable
	TableHead []string `json:"table_head"` // T[0..3], 16 hex digits each
	TableTail string   `json:"table_255"`  // T[255]
	Min       int      `json:"min"`
	Avg       int      `json:"avg"`
	Max       int      `json:"max"`
	Input     string   `json:"input"` // "aes-256-ctr-zero" or "zeros"
	Length    int      `json:"length"`
	Chunks    []int    `json:"chunks"`
}

var small = Params{Min: 2 << 10, Avg: 8 << 10, Max: 32 << 10}

// vectorCases are the inputs of the vectors; their answers are in the file.
var vectorCases = []struct {
	name  string
	key   int
	p     Params
	input string
	n     int
}{
	{"default params, zero key, keystream", 0, DefaultParams, "aes-256-ctr-zero", 16<<20 + 12345},
	{"default params, key 00..1f, keystream", 1, DefaultParams, "aes-256-ctr-zero", 16<<20 + 12345},
	{"default params, zero key, zeros (max cuts)", 0, DefaultParams, "zeros", 3*(4<<20) + 777},
	{"small params, zero key, keystream", 0, small, "aes-256-ctr-zero", 1<<20 + 777},
	{"small params, key 00..1f, keystream", 1, small, "aes-256-ctr-zero", 1<<20 + 777},
	{"small params, key 00..1f, zeros", 1, small, "zeros", 100<<10 + 1},
	{"tiny params, zero key, keystream", 0, Params{Min: 64, Avg: 256, Max: 1024}, "aes-256-ctr-zero", 8<<10 + 3},
	{"odd params, key 00..1f, keystream", 1, Params{Min: 777, Avg: 1024, Max: 2047}, "aes-256-ctr-zero", 64<<10 + 1},
}

func vectorInput(kind string, n int) []byte {
	if kind == "zeros" {
		return make([]byte, n)
	}
	return keystream(n)
}

// computeVector derives a vector's fields from the implementation.
func computeVector(t *testing.T, i int) vector {
	vc := vectorCases[i]
	table := gearTable(t, vc.key)
	var head []string
	for _, x := range table[:4] {
		head = append(head, fmt.Sprintf("%016x", x))
	}
	key := gearKey(vc.key)
	return vector{
		Name: vc.name, GearKey: hex.EncodeToString(key[:]),
		TableHead: head, TableTail: fmt.Sprintf("%016x", table[255]),
		Min: vc.p.Min, Avg: vc.p.Avg, Max: vc.p.Max,
		Input: vc.input, Length: vc.n,
		Chunks: lengths(chunkAll(t, bytes.NewReader(vectorInput(vc.input, vc.n)), table, vc.p)),
	}
}

// TestVectors checks the chunker against the known answers of
// testdata/vectors.json, and the byte-at-a-time reference against them too.
func TestVectors(t *testing.T) {
	var want vectorFile
	if !*update {
		raw, err := os.ReadFile(vectorsFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		if len(want.Vectors) != len(vectorCases) {
			t.Fatalf("%s has %d vectors, want %d", vectorsFile, len(want.Vectors), len(vectorCases))
		}
	}
	got := vectorFile{Comment: vectorComment}
	for i, vc := range vectorCases {
		v := computeVector(t, i)
		if ref := refChunks(gearTable(t, vc.key), vc.p, vectorInput(vc.input, vc.n)); !slices.Equal(ref, v.Chunks) {
			t.Errorf("%s: Chunker gives %v, reference %v", vc.name, v.Chunks, ref)
		}
		got.Vectors = append(got.Vectors, v)
		if !*update && !reflect.DeepEqual(v, want.Vectors[i]) {
			t.Errorf("vector %d %q:\n got %+v\nwant %+v", i, vc.name, v, want.Vectors[i])
		}
	}
	if *update {
		raw, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, append(raw, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var vectorComment = []string{
	"Known answers of the content-defined chunker, docs/format.md §3.1.",
	"gear_key is fed to the gear-table derivation of §2.3 (HKDF-Expand-SHA-256, info \"coffer v1 chunker gear table\");",
	"table_head and table_255 are T[0..3] and T[255] of the resulting table, as 16 hex digits.",
	"input aes-256-ctr-zero: the first length bytes of the AES-256-CTR keystream with the all-zero key and",
	"the all-zero 16-byte initial counter block, incremented as a 128-bit big-endian integer (NIST SP 800-38A).",
	"input zeros: length zero bytes. chunks: the lengths of the chunks in order; they sum to length.",
}

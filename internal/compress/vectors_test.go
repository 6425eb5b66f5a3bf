package compress

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/frames.json")

// frameVector is one entry of testdata/frames.json, the known answers of
// docs/format.md §3.2: a framed blob plaintext, the raw length the index
// gives for it, and the plaintext it decodes to, or no plaintext if every
// reader must refuse it.
type frameVector struct {
	Comment   string  `json:"comment"`
	RawLength int     `json:"raw_length"`
	Framed    string  `json:"framed"`
	Plaintext *string `json:"plaintext"` // nil: invalid
}

func hexp(b []byte) *string { s := hex.EncodeToString(b); return &s }

// makeFrameVectors builds the vectors from Encode; the zstd bytes depend
// on the compressor's version, which is why they are kept in testdata
// rather than rebuilt.
func makeFrameVectors(t *testing.T) []frameVector {
	enc := func(b []byte) []byte {
		f, err := Encode(nil, b)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	text := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 40))
	small := bytes.Repeat([]byte{'a'}, 64)
	z, zs := enc(text), enc(small)
	if z[0] != Zstd || zs[0] != Zstd {
		t.Fatal("vector inputs did not compress")
	}
	flipped := bytes.Clone(z)
	flipped[len(flipped)-1] ^= 1
	return []frameVector{
		{"raw, empty", 0, "00", hexp(nil)},
		{"raw", 5, "0068656c6c6f", hexp([]byte("hello"))},
		{"zstd, single frame declaring its content size", len(text), hex.EncodeToString(z), hexp(text)},
		{"zstd, single frame without a content size (plaintext under 256 bytes)", len(small), hex.EncodeToString(zs), hexp(small)},
		{"invalid: raw body longer than raw_length", 4, "0068656c6c6f", nil},
		{"invalid: zstd content size differs from raw_length", len(text) - 1, hex.EncodeToString(z), nil},
		{"invalid: zstd output shorter than raw_length", len(small) + 1, hex.EncodeToString(zs), nil},
		{"invalid: zstd frame truncated", len(text), hex.EncodeToString(z[:len(z)-1]), nil},
		{"invalid: zstd checksum altered", len(text), hex.EncodeToString(flipped), nil},
		{"invalid: unknown marker 0x02", 5, "0268656c6c6f", nil},
		{"invalid: empty", 0, "", nil},
	}
}

func TestFrameVectors(t *testing.T) {
	if *update {
		b, err := json.MarshalIndent(makeFrameVectors(t), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("testdata/frames.json", append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile("testdata/frames.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []frameVector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range vs {
		framed, err := hex.DecodeString(v.Framed)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Decode(nil, framed, v.RawLength)
		if v.Plaintext == nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: accepted (%v)", v.Comment, err)
			}
			continue
		}
		if err != nil || hex.EncodeToString(out) != *v.Plaintext {
			t.Errorf("%s: %x, %v", v.Comment, out, err)
		}
	}
}

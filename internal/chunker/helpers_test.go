package chunker

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"io"
	"math/bits"
	"testing"

	"github.com/coffer-backup/coffer/internal/crypt"
)

// keystream returns the first n bytes of the AES-256-CTR keystream under the
// all-zero key and the all-zero initial counter block: the input of the
// known-answer vectors (docs/format.md §3.1).
func keystream(n int) []byte {
	block, err := aes.NewCipher(make([]byte, 32))
	if err != nil {
		panic(err)
	}
	out := make([]byte, n)
	cipher.NewCTR(block, make([]byte, aes.BlockSize)).XORKeyStream(out, out)
	return out
}

// gearKey returns the gear key of vector key number k: all zeros for k = 0,
// and bytes 0x00, 0x01, …, 0x1f for k = 1 (docs/format.md §3.1).
func gearKey(k int) *crypt.Key {
	var key crypt.Key
	if k == 1 {
		for i := range key {
			key[i] = byte(i)
		}
	}
	return &key
}

// gearTable returns the gear table of vector key number k.
func gearTable(tb testing.TB, k int) *[256]uint64 {
	tb.Helper()
	t, err := crypt.GearTable(gearKey(k))
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// refCut is a byte-at-a-time transcription of the algorithm of
// docs/format.md §3.1, written from the spec and independent of Cut's
// unrolled loop, against which Cut and Chunker are checked.
func refCut(table *[256]uint64, p Params, data []byte) int {
	b := bits.Len(uint(p.Avg)) - 1
	maskS := ^uint64(0) << (64 - b - 2)
	maskL := ^uint64(0) << (64 - b + 2)
	end := min(len(data), p.Max)
	var fp uint64
	for i := p.Min; i < end; i++ {
		fp = fp<<1 + table[data[i]]
		mask := maskL
		if i < p.Avg {
			mask = maskS
		}
		if fp&mask == 0 {
			return i + 1
		}
	}
	return end
}

// refChunks returns the chunk lengths of data by repeated refCut.
func refChunks(table *[256]uint64, p Params, data []byte) []int {
	var out []int
	for len(data) > 0 {
		n := refCut(table, p, data)
		out = append(out, n)
		data = data[n:]
	}
	return out
}

// chunkAll reads every chunk of r and returns copies of them.
func chunkAll(tb testing.TB, r io.Reader, table *[256]uint64, p Params) [][]byte {
	tb.Helper()
	c, err := New(r, table, p)
	if err != nil {
		tb.Fatal(err)
	}
	return drain(tb, c)
}

// drain returns copies of all remaining chunks of c.
func drain(tb testing.TB, c *Chunker) [][]byte {
	tb.Helper()
	var out [][]byte
	for {
		chunk, err := c.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, bytes.Clone(chunk))
	}
}

// lengths returns the lengths of chunks.
func lengths(chunks [][]byte) []int {
	out := make([]int, len(chunks))
	for i, c := range chunks {
		out[i] = len(c)
	}
	return out
}

// checkChunks fails unless chunks concatenate to data, every chunk is
// non-empty and at most p.Max long, and every chunk but the last is at least
// p.Min long.
func checkChunks(tb testing.TB, p Params, data []byte, chunks [][]byte) {
	tb.Helper()
	for i, c := range chunks {
		if len(c) == 0 || len(c) > p.Max || (len(c) < p.Min && i != len(chunks)-1) {
			tb.Fatalf("chunk %d of %d has length %d, outside [%d, %d]", i, len(chunks), len(c), p.Min, p.Max)
		}
	}
	if !bytes.Equal(bytes.Join(chunks, nil), data) {
		tb.Fatalf("%d chunks do not concatenate to the %d-byte input", len(chunks), len(data))
	}
}

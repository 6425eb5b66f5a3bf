// Package chunker splits a byte stream into content-defined chunks with a
// keyed FastCDC (docs/format.md §3.1): a gear rolling hash over a secret
// table (§2.3) with normalized chunking, so that an insertion or deletion
// changes only the chunks around it, and so that chunk boundaries cannot be
// predicted from content without the key.
//
// Cut is the pure algorithm; Chunker applies it to an io.Reader given by the
// caller, through one reusable buffer. The package does no other I/O.
package chunker

import (
	"errors"
	"fmt"
	"math/bits"
)

// MaxChunk bounds Params.Max: no chunk is ever longer (docs/format.md §3.1).
const MaxChunk = 64 << 20

// Lower bounds of Params (docs/format.md §3.1).
const (
	minMin = 64
	minAvg = 256
)

// Params are the size parameters of the chunker, in bytes. Every chunk but
// the last of a stream is at least Min and at most Max bytes long; Avg, a
// power of two, is where the cut condition switches from strict to lax
// (normalized chunking), and sets the mean chunk size (about 1.19 × Avg for
// Min = Avg/2).
type Params struct{ Min, Avg, Max int }

// DefaultParams are the parameters of new repositories: mean chunk size
// about 1.19 MiB.
var DefaultParams = Params{Min: 512 << 10, Avg: 1 << 20, Max: 4 << 20}

// ErrParams is returned (wrapped) for parameters outside the limits of
// docs/format.md §3.1.
var ErrParams = errors.New("invalid chunker parameters")

// Validate reports whether p is usable: 64 ≤ Min ≤ Avg ≤ Max ≤ MaxChunk,
// with Avg a power of two and at least 256.
func (p Params) Validate() error {
	switch {
	case p.Min < minMin:
		return fmt.Errorf("min %d below %d: %w", p.Min, minMin, ErrParams)
	case p.Avg < minAvg || p.Avg&(p.Avg-1) != 0:
		return fmt.Errorf("avg %d not a power of two ≥ %d: %w", p.Avg, minAvg, ErrParams)
	case p.Min > p.Avg || p.Avg > p.Max:
		return fmt.Errorf("sizes %d/%d/%d not ordered min ≤ avg ≤ max: %w", p.Min, p.Avg, p.Max, ErrParams)
	case p.Max > MaxChunk:
		return fmt.Errorf("max %d above %d: %w", p.Max, MaxChunk, ErrParams)
	}
	return nil
}

// cutter is a validated configuration with its masks precomputed.
type cutter struct {
	table         *[256]uint64
	min, avg, max int
	maskS, maskL  uint64
}

// newCutter checks table and p and derives the two masks: the top log2(Avg)+2
// bits (strict, before Avg) and the top log2(Avg)-2 bits (lax, after Avg).
func newCutter(table *[256]uint64, p Params) (cutter, error) {
	if table == nil {
		return cutter{}, errors.New("chunker: nil gear table")
	}
	if err := p.Validate(); err != nil {
		return cutter{}, fmt.Errorf("chunker: %w", err)
	}
	b := bits.TrailingZeros(uint(p.Avg))
	return cutter{
		table: table,
		min:   p.Min, avg: p.Avg, max: p.Max,
		maskS: ^uint64(0) << (64 - (b + 2)),
		maskL: ^uint64(0) << (64 - (b - 2)),
	}, nil
}

// Cut returns the length of the first chunk of data under the gear table and
// parameters: the position just after the first cut point, or min(len(data),
// p.Max) if there is none. It is the whole algorithm of docs/format.md §3.1;
// a stream is chunked by applying Cut to the rest of the stream, given at
// least p.Max bytes of it or all that remains.
//
// Cut panics if table is nil or p is invalid: New reports both as errors,
// so this is a programming error.
func Cut(table *[256]uint64, p Params, data []byte) int {
	c, err := newCutter(table, p)
	if err != nil {
		panic(err)
	}
	return c.cut(data)
}

// cut implements Cut for a validated configuration (docs/format.md §3.1).
// The first min bytes are not hashed; the hash starts at zero.
func (c *cutter) cut(data []byte) int {
	n := len(data)
	if n <= c.min {
		return n
	}
	n = min(n, c.max)
	normal := min(n, c.avg)
	k, fp := scan(c.table, 0, c.maskS, data[c.min:normal])
	if k > 0 {
		return c.min + k
	}
	if k, _ = scan(c.table, fp, c.maskL, data[normal:n]); k > 0 {
		return normal + k
	}
	return n
}

// scan rolls the gear hash fp ← 2·fp + table[b] (mod 2⁶⁴) over data and
// returns the length of the shortest prefix after which fp&mask == 0, or 0
// if there is none, together with the final hash.
//
// Two bytes are taken per step, and the hash after the second is computed
// from the hash before the first, so that the loop-carried dependency is one
// shift and one add per two bytes; the hash after the first byte is only
// tested.
func scan(table *[256]uint64, fp, mask uint64, data []byte) (int, uint64) {
	i := 0
	for ; i < len(data)-1; i += 2 {
		a, b := table[data[i]], table[data[i+1]]
		mid := fp<<1 + a
		fp = fp<<2 + (a<<1 + b)
		if mid&mask == 0 {
			return i + 1, mid
		}
		if fp&mask == 0 {
			return i + 2, fp
		}
	}
	if i < len(data) {
		fp = fp<<1 + table[data[i]]
		if fp&mask == 0 {
			return i + 1, fp
		}
	}
	return 0, fp
}

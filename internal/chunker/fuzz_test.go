package chunker

import (
	"bytes"
	"slices"
	"testing"
)

// fuzzParams maps arbitrary integers onto valid parameters small enough for
// fuzz inputs to hold several chunks: Avg from 256 to 4096.
func fuzzParams(lo, avgShift, hi uint16) Params {
	avg := minAvg << (avgShift % 5)
	return Params{
		Min: minMin + int(lo)%(avg-minMin+1),
		Avg: avg,
		Max: avg + int(hi)%(3*avg),
	}
}

// FuzzChunker checks on arbitrary data, parameters, keys and read sizes that
// the chunks concatenate to the input, respect the size bounds, and equal
// those of the byte-at-a-time reference.
func FuzzChunker(f *testing.F) {
	f.Add(keystream(5000), uint16(0), uint16(0), uint16(0), false, uint16(0))
	f.Add(keystream(20000), uint16(300), uint16(2), uint16(1000), true, uint16(97))
	f.Add(make([]byte, 3000), uint16(5), uint16(1), uint16(7), false, uint16(1))
	f.Add(bytes.Repeat([]byte("abc"), 2000), uint16(64), uint16(3), uint16(4095), true, uint16(500))
	f.Add([]byte{}, uint16(1), uint16(4), uint16(2), false, uint16(3))
	tables := [2]*[256]uint64{gearTable(f, 0), gearTable(f, 1)}
	f.Fuzz(func(t *testing.T, data []byte, lo, avgShift, hi uint16, key bool, step uint16) {
		p := fuzzParams(lo, avgShift, hi)
		table := tables[0]
		if key {
			table = tables[1]
		}
		r := &jitterReader{r: bytes.NewReader(data), i: int(step)}
		chunks := chunkAll(t, r, table, p)
		checkChunks(t, p, data, chunks)
		if got, want := lengths(chunks), refChunks(table, p, data); !slices.Equal(got, want) {
			t.Fatalf("%+v: lengths %v, reference %v", p, got, want)
		}
	})
}

package chunker

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkNext measures Chunker.Next with the default parameters over
// 64 MiB of pseudo-random data, the case that dominates a backup.
func BenchmarkNext(b *testing.B) {
	data := keystream(64 << 20)
	table := gearTable(b, 0)
	r := bytes.NewReader(data)
	c, err := New(r, table, DefaultParams)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	chunks := 0
	for b.Loop() {
		r.Reset(data)
		c.Reset(r)
		for {
			_, err := c.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			chunks++
		}
	}
	b.ReportMetric(float64(len(data))*float64(b.N)/float64(chunks), "B/chunk")
}

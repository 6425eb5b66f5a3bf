package chunker

import (
	"errors"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		p  Params
		ok bool
	}{
		{DefaultParams, true},
		{Params{Min: 64, Avg: 256, Max: 256}, true},
		{Params{Min: 256, Avg: 256, Max: 1024}, true},
		{Params{Min: 1 << 20, Avg: 32 << 20, Max: MaxChunk}, true},
		{Params{}, false},
		{Params{Min: 63, Avg: 256, Max: 1024}, false},
		{Params{Min: 64, Avg: 128, Max: 1024}, false},
		{Params{Min: 64, Avg: 1000, Max: 4096}, false},
		{Params{Min: 64, Avg: -256, Max: 4096}, false},
		{Params{Min: 512, Avg: 256, Max: 1024}, false},
		{Params{Min: 64, Avg: 1024, Max: 1023}, false},
		{Params{Min: 64, Avg: 1024, Max: MaxChunk + 1}, false},
		{Params{Min: 64, Avg: 1 << 30, Max: 1 << 30}, false},
	} {
		err := tc.p.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%+v: Validate() = %v, want ok=%v", tc.p, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrParams) {
			t.Errorf("%+v: error %v does not wrap ErrParams", tc.p, err)
		}
	}
}

// TestMasks pins the mask values given in docs/format.md §3.1.
func TestMasks(t *testing.T) {
	table := gearTable(t, 0)
	for _, tc := range []struct {
		avg          int
		maskS, maskL uint64
	}{
		{1 << 20, 0xFFFFFC0000000000, 0xFFFFC00000000000},
		{256, 0xFFC0000000000000, 0xFC00000000000000},
		{8 << 10, 0xFFFE000000000000, 0xFFE0000000000000},
	} {
		c, err := newCutter(table, Params{Min: 64, Avg: tc.avg, Max: tc.avg})
		if err != nil {
			t.Fatal(err)
		}
		if c.maskS != tc.maskS || c.maskL != tc.maskL {
			t.Errorf("avg %d: masks %#x, %#x; want %#x, %#x", tc.avg, c.maskS, c.maskL, tc.maskS, tc.maskL)
		}
	}
}

// TestCutEdges covers the lengths at which Cut's answer is forced.
func TestCutEdges(t *testing.T) {
	table, p := gearTable(t, 0), DefaultParams
	random := keystream(2 * p.Max)
	zeros := make([]byte, 2*p.Max)
	for _, tc := range []struct {
		name string
		data []byte
		want int
	}{
		{"empty", nil, 0},
		{"one byte", random[:1], 1},
		{"min bytes", random[:p.Min], p.Min},
		{"zeros just under max", zeros[:p.Max-1], p.Max - 1},
		{"zeros at max", zeros[:p.Max], p.Max},
		{"zeros over max", zeros, p.Max},
		{"random", random, 802148}, // first chunk of the first vector
	} {
		if got := Cut(table, p, tc.data); got != tc.want {
			t.Errorf("%s: Cut = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestCutMatchesReference compares the unrolled Cut with the byte-at-a-time
// reference at many offsets and lengths, so that cuts fall on odd and even
// positions of both loops and on the odd tail byte.
func TestCutMatchesReference(t *testing.T) {
	data := keystream(64 << 10)
	for _, p := range []Params{
		{Min: 64, Avg: 256, Max: 1024},
		{Min: 100, Avg: 512, Max: 777},
		{Min: 101, Avg: 512, Max: 2048},
		{Min: 777, Avg: 1024, Max: 2047},
		{Min: 256, Avg: 256, Max: 2048},
		{Min: 1000, Avg: 1024, Max: 1024},
	} {
		for key := range 2 {
			table := gearTable(t, key)
			parity := [2]int{}
			for off := 0; off < len(data)-p.Max; off += 37 {
				for _, n := range []int{p.Max + 1, p.Max, p.Avg + 1, p.Avg, p.Min + 3, p.Min} {
					got, want := Cut(table, p, data[off:off+n]), refCut(table, p, data[off:off+n])
					if got != want {
						t.Fatalf("%+v key %d offset %d length %d: Cut = %d, reference %d", p, key, off, n, got, want)
					}
					parity[got%2]++
				}
			}
			if parity[0] == 0 || parity[1] == 0 {
				t.Errorf("%+v key %d: cut lengths by parity %v: both loop exits not exercised", p, key, parity)
			}
		}
	}
}

func TestCutPanicsOnMisuse(t *testing.T) {
	for _, tc := range []struct {
		name  string
		table *[256]uint64
		p     Params
	}{
		{"nil table", nil, DefaultParams},
		{"bad params", gearTable(t, 0), Params{Min: -1, Avg: 256, Max: 1024}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Cut did not panic", tc.name)
				}
			}()
			Cut(tc.table, tc.p, make([]byte, 2048))
		}()
	}
}

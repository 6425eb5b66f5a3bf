package chunker

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

var tiny = Params{Min: 64, Avg: 256, Max: 1024}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		table *[256]uint64
		p     Params
	}{
		{"nil table", nil, DefaultParams},
		{"bad params", gearTable(t, 0), Params{Min: 64, Avg: 300, Max: 1024}},
		{"huge max", gearTable(t, 0), Params{Min: 64, Avg: 256, Max: 1 << 40}},
	} {
		if c, err := New(strings.NewReader("x"), tc.table, tc.p); err == nil || c != nil {
			t.Errorf("%s: New = %v, %v; want an error", tc.name, c, err)
		}
	}
}

// TestChunkerMatchesReference checks Chunker against repeated reference cuts
// over inputs around the buffer and parameter boundaries.
func TestChunkerMatchesReference(t *testing.T) {
	random := keystream(5*small.Max + 3)
	text := []byte(strings.Repeat("all work and no play makes jack a dull boy\n", 4000))
	for _, p := range []Params{tiny, small, {Min: 4096, Avg: 4096, Max: 4096}} {
		for _, in := range []struct {
			name string
			data []byte
		}{
			{"empty", nil},
			{"one byte", random[:1]},
			{"min", random[:p.Min]},
			{"max", random[:p.Max]},
			{"2max+1", random[:2*p.Max+1]},
			{"random", random},
			{"zeros", make([]byte, 3*p.Max+5)},
			{"text", text},
		} {
			table := gearTable(t, 1)
			chunks := chunkAll(t, bytes.NewReader(in.data), table, p)
			checkChunks(t, p, in.data, chunks)
			if got, want := lengths(chunks), refChunks(table, p, in.data); !slices.Equal(got, want) {
				t.Errorf("%+v %s: lengths %v, reference %v", p, in.name, got, want)
			}
		}
	}
}

// TestRefillBoundary checks the case where exactly Max−1 bytes are left in
// a full buffer: the chunker must read more before cutting. The input is a
// stretch of keystream whose first two chunks total Max+1, followed by zeros,
// which this key cuts only at Max.
func TestRefillBoundary(t *testing.T) {
	table, stream := gearTable(t, 0), keystream(1<<20)
	for off := 0; off+4*tiny.Max <= len(stream); off++ {
		data := slices.Clone(stream[off : off+4*tiny.Max])
		n := refCut(table, tiny, data)
		if n += refCut(table, tiny, data[n:]); n != tiny.Max+1 {
			continue
		}
		clear(data[n:])
		want := refChunks(table, tiny, data)
		if len(want) < 3 || want[2] != tiny.Max {
			t.Fatalf("offset %d: reference lengths %v, want a third chunk of Max", off, want)
		}
		if got := lengths(chunkAll(t, bytes.NewReader(data), table, tiny)); !slices.Equal(got, want) {
			t.Errorf("offset %d: lengths %v, reference %v", off, got, want)
		}
		return
	}
	t.Fatal("no input with two first chunks of total Max+1 in the keystream")
}

// jitterReader returns reads of varying short lengths, some of them empty.
type jitterReader struct {
	r io.Reader
	i int
}

func (j *jitterReader) Read(p []byte) (int, error) {
	j.i++
	return j.r.Read(p[:min(len(p), (j.i*7919)%3001)])
}

// TestShortReads checks that how the reader splits its data does not change
// the chunks.
func TestShortReads(t *testing.T) {
	data := keystream(3*small.Max + 11)
	table := gearTable(t, 0)
	want := lengths(chunkAll(t, bytes.NewReader(data), table, small))
	for _, tc := range []struct {
		name string
		r    io.Reader
	}{
		{"one byte", iotest.OneByteReader(bytes.NewReader(data))},
		{"half", iotest.HalfReader(bytes.NewReader(data))},
		{"data with EOF", iotest.DataErrReader(bytes.NewReader(data))},
		{"jitter", &jitterReader{r: bytes.NewReader(data)}},
	} {
		chunks := chunkAll(t, tc.r, table, small)
		checkChunks(t, small, data, chunks)
		if got := lengths(chunks); !slices.Equal(got, want) {
			t.Errorf("%s: lengths %v, want %v", tc.name, got, want)
		}
	}
}

// emptyReader returns no data and no error, forever.
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

// liarReader claims to have read more than it was given room for.
type liarReader struct{}

func (liarReader) Read(p []byte) (int, error) { return len(p) + 1, nil }

// TestReadErrors checks that read failures are reported wrapped, are sticky,
// and never yield a chunk past the failure.
func TestReadErrors(t *testing.T) {
	boom := errors.New("boom")
	data := keystream(10 * tiny.Max)
	for _, tc := range []struct {
		name string
		r    io.Reader
		want error
	}{
		{"immediate", iotest.ErrReader(boom), boom},
		{"after some chunks", io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom)), boom},
		{"timeout", iotest.TimeoutReader(bytes.NewReader(data)), iotest.ErrTimeout},
		{"no progress", emptyReader{}, io.ErrNoProgress},
		{"bad count", liarReader{}, nil},
	} {
		c, err := New(tc.r, gearTable(t, 0), tiny)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		for {
			chunk, err := c.Next()
			if err == nil {
				got = append(got, chunk...)
				continue
			}
			if errors.Is(err, io.EOF) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
			}
			if _, again := c.Next(); again == nil || again.Error() != err.Error() {
				t.Errorf("%s: second Next after %v gave %v", tc.name, err, again)
			}
			break
		}
		if !bytes.HasPrefix(data, got) {
			t.Errorf("%s: %d bytes returned before the error are not a prefix of the input", tc.name, len(got))
		}
	}
}

// TestReset checks that a reset chunker gives the same chunks as a new one,
// after a partly read stream and after a failed one.
func TestReset(t *testing.T) {
	a, b := keystream(4*small.Max), keystream(3*small.Max + 1)[7:]
	table := gearTable(t, 0)
	want := chunkAll(t, bytes.NewReader(b), table, small)
	for _, first := range []io.Reader{bytes.NewReader(a), iotest.ErrReader(errors.New("boom"))} {
		c, err := New(first, table, small)
		if err != nil {
			t.Fatal(err)
		}
		c.Next()
		c.Reset(bytes.NewReader(b))
		if got := drain(t, c); !slices.EqualFunc(got, want, bytes.Equal) {
			t.Errorf("after Reset: %v, want %v", lengths(got), lengths(want))
		}
	}
}

// TestChunkCapacity checks that appending to a returned chunk cannot
// overwrite the data of the next one.
func TestChunkCapacity(t *testing.T) {
	c, err := New(bytes.NewReader(keystream(3*tiny.Max)), gearTable(t, 0), tiny)
	if err != nil {
		t.Fatal(err)
	}
	chunk, err := c.Next()
	if err != nil {
		t.Fatal(err)
	}
	if cap(chunk) != len(chunk) {
		t.Errorf("chunk of length %d has capacity %d", len(chunk), cap(chunk))
	}
}

// TestResync checks that after an edit in the middle of a stream the chunks
// before it are unchanged and those after it are shared again within a few
// chunks.
func TestResync(t *testing.T) {
	data := keystream(2 << 20)
	mid := len(data) / 2
	table := gearTable(t, 0)
	orig := chunkAll(t, bytes.NewReader(data), table, small)
	seen := make(map[string]bool)
	for _, c := range orig {
		seen[string(c)] = true
	}
	for _, tc := range []struct {
		name   string
		edited []byte
	}{
		{"insert 100 bytes", slices.Concat(data[:mid], bytes.Repeat([]byte{'x'}, 100), data[mid:])},
		{"delete 1 byte", slices.Concat(data[:mid], data[mid+1:])},
		{"overwrite 10 bytes", slices.Concat(data[:mid], make([]byte, 10), data[mid+10:])},
	} {
		chunks := chunkAll(t, bytes.NewReader(tc.edited), table, small)
		checkChunks(t, small, tc.edited, chunks)
		fresh, pos := 0, 0
		for i, c := range chunks {
			if pos+len(c) <= mid && !bytes.Equal(c, orig[i]) {
				t.Fatalf("%s: chunk %d before the edit changed", tc.name, i)
			}
			if !seen[string(c)] {
				fresh++
			}
			pos += len(c)
		}
		if fresh == 0 || fresh > 3 {
			t.Errorf("%s: %d of %d chunks are new, want 1 to 3", tc.name, fresh, len(chunks))
		}
	}
}

// TestKeysGiveDifferentBoundaries checks that the gear key, not the content
// alone, decides where chunks end.
func TestKeysGiveDifferentBoundaries(t *testing.T) {
	data := keystream(2 << 20)
	cuts := [2]map[int]bool{}
	for key := range cuts {
		cuts[key] = make(map[int]bool)
		pos := 0
		for _, n := range lengths(chunkAll(t, bytes.NewReader(data), gearTable(t, key), small)) {
			pos += n
			cuts[key][pos] = true
		}
	}
	shared := 0
	for pos := range cuts[0] {
		if cuts[1][pos] && pos != len(data) {
			shared++
		}
	}
	if shared > len(cuts[0])/20 {
		t.Errorf("%d of %d boundaries shared between two keys", shared, len(cuts[0]))
	}
}

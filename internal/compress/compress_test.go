package compress

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// text is compressible but not trivially so.
func text(n int) []byte {
	var b []byte
	for i := 0; len(b) < n; i++ {
		b = binary.AppendUvarint(append(b, "line of a log file, number "...), uint64(i%977))
		b = append(b, '\n')
	}
	return b[:n]
}

// TestRoundTrip encodes inputs of every kind and checks the marker chosen,
// that Encode appends to dst, and that Decode restores the input exactly.
func TestRoundTrip(t *testing.T) {
	half := append(text(20000), randomBytes(t, 20000)...)
	for _, c := range []struct {
		name   string
		in     []byte
		marker byte
	}{
		{"empty", nil, Raw},
		{"one byte", []byte{0}, Raw},
		{"63 compressible bytes", bytes.Repeat([]byte{'a'}, 63), Raw}, // below the 64-byte floor
		{"64 compressible bytes", bytes.Repeat([]byte{'a'}, 64), Zstd},
		{"small text", text(5000), Zstd},
		{"large text", text(1 << 20), Zstd},
		{"zeros", make([]byte, 4<<20), Zstd},
		{"random small", randomBytes(t, 5000), Raw},
		{"random large", randomBytes(t, 1<<20), Raw},
		{"text then random", half, Zstd}, // the start sample is text
		{"random then text", append(randomBytes(t, 20000), text(20000)...), Zstd},
	} {
		t.Run(c.name, func(t *testing.T) {
			framed, err := Encode([]byte("dst"), c.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(framed[:3]) != "dst" {
				t.Fatal("Encode did not append to dst")
			}
			framed = framed[3:]
			if framed[0] != c.marker {
				t.Errorf("marker %d, want %d (%d bytes framed from %d)", framed[0], c.marker, len(framed), len(c.in))
			}
			if framed[0] == Zstd && len(framed)-1 >= len(c.in)-len(c.in)/minSavingDiv {
				t.Errorf("kept zstd output of %d bytes for %d input bytes", len(framed)-1, len(c.in))
			}
			if framed[0] == Raw && len(framed) != len(c.in)+1 {
				t.Errorf("raw frame of %d bytes for %d input bytes", len(framed), len(c.in))
			}
			out, err := Decode([]byte("out"), framed, len(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, append([]byte("out"), c.in...)) {
				t.Fatal("round trip altered the data")
			}
		})
	}
}

// TestZstdFrameHeader checks the zstd frames Encode writes: a single
// frame with a checksum whose header, where it declares the content size
// (docs/format.md §3.2), declares the plaintext length.
func TestZstdFrameHeader(t *testing.T) {
	for _, n := range []int{64, 255, 1000, 100000, 3 << 20} {
		framed, err := Encode(nil, text(n))
		if err != nil {
			t.Fatal(err)
		}
		var h zstd.Header
		if err := h.Decode(framed[1:]); err != nil || framed[0] != Zstd || !h.HasCheckSum ||
			(h.HasFCS && h.FrameContentSize != uint64(n)) || (n > 1024 && !h.HasFCS) {
			t.Errorf("%d bytes: marker %d, header %+v, %v", n, framed[0], h, err)
		}
	}
}

func zstdFrame(t testing.TB, b []byte) []byte {
	t.Helper()
	e, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.EncodeAll(b, []byte{Zstd})
}

// streamFrame compresses b, of more than one 128 KiB zstd block, as a
// stream: a frame that does not declare its content size.
func streamFrame(t testing.TB, b []byte) []byte {
	t.Helper()
	if len(b) <= 128<<10 {
		t.Fatalf("a %d-byte stream would be encoded in one block, with its size", len(b))
	}
	var buf bytes.Buffer
	buf.WriteByte(Zstd)
	w, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var h zstd.Header
	if err := h.Decode(buf.Bytes()[1:]); err != nil || h.HasFCS {
		t.Fatalf("stream frame header %+v, %v", h, err)
	}
	return buf.Bytes()
}

// TestDecodeRefuses lists frames Decode must refuse with ErrCorrupt.
func TestDecodeRefuses(t *testing.T) {
	in := text(10000)
	good, err := Encode(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	if good[0] != Zstd {
		t.Fatal("test input did not compress")
	}
	long := text(300000)
	stream := streamFrame(t, long)
	truncated := good[:len(good)-5]
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0xff
	for _, c := range []struct {
		name   string
		framed []byte
		rawLen int
	}{
		{"empty frame", nil, 0},
		{"raw, one byte short", []byte{Raw, 1, 2}, 3},
		{"raw, one byte long", []byte{Raw, 1, 2}, 1},
		{"raw, negative length", []byte{Raw}, -1},
		{"zstd, one byte short", good, len(in) + 1},
		{"zstd, one byte long", good, len(in) - 1},
		{"zstd, zero length", good, 0},
		{"zstd, beyond MaxRaw", good, MaxRaw + 1},
		{"zstd, truncated", truncated, len(in)},
		{"zstd, altered", flipped, len(in)},
		{"zstd, not a frame", []byte{Zstd, 1, 2, 3, 4, 5, 6, 7, 8}, 8},
		{"zstd, empty body", []byte{Zstd}, 0},
		{"stream frame of another length", stream, len(long) - 1},
		{"stream frame, longer than MaxRaw", stream, MaxRaw + 1},
		{"frame and trailing garbage", append(bytes.Clone(good), 0xde, 0xad, 0xbe, 0xef), len(in)},
		{"two frames", append(bytes.Clone(good), good[1:]...), len(in)},
		{"marker 2", append([]byte{2}, in...), len(in)},
		{"marker 0xff", append([]byte{0xff}, in...), len(in)},
	} {
		out, err := Decode(nil, c.framed, c.rawLen)
		if !errors.Is(err, ErrCorrupt) || out != nil {
			t.Errorf("%s: got %d bytes, %v; want ErrCorrupt", c.name, len(out), err)
		}
	}
	// A frame without a declared size is accepted if it decodes to exactly
	// rawLen bytes.
	if out, err := Decode(nil, stream, len(long)); err != nil || !bytes.Equal(out, long) {
		t.Errorf("stream frame of the right length: %v", err)
	}
}

// allocated returns the bytes allocated while fn runs.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// bomb is a frame of 48 MiB of zeros that declares no size: about 5 KB.
func bomb(t testing.TB) []byte {
	t.Helper()
	return streamFrame(t, make([]byte, 48<<20))
}

// TestBombDeclared refuses a small frame that declares far more than
// rawLen, before decompressing it.
func TestBombDeclared(t *testing.T) {
	big := zstdFrame(t, make([]byte, 48<<20))
	warm := zstdFrame(t, text(1000))
	runtime.GC()
	if _, err := Decode(nil, warm, 1000); err != nil { // fills the decoder pool
		t.Fatal(err)
	}
	n := allocated(func() {
		if _, err := Decode(nil, big, 1000); !errors.Is(err, ErrCorrupt) {
			t.Errorf("frame declaring 48 MiB accepted for 1000 bytes: %v", err)
		}
	})
	if n > 1<<20 {
		t.Errorf("refusing a %d-byte frame declaring 48 MiB allocated %d bytes", len(big), n)
	}
}

// TestBombUndeclared feeds frames that declare no size, or the expected
// one, but decode to far more than rawLen: Decode must refuse them without
// allocating much more than rawLen.
func TestBombUndeclared(t *testing.T) {
	warm := zstdFrame(t, text(1000))
	b := bomb(t)
	for _, c := range []struct {
		name   string
		framed []byte
	}{
		{"undeclared size", b},
		{"declared frame then undeclared one", append(bytes.Clone(warm), b[1:]...)},
	} {
		runtime.GC()
		if _, err := Decode(nil, warm, 1000); err != nil {
			t.Fatal(err)
		}
		n := allocated(func() {
			if _, err := Decode(nil, c.framed, 1000); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: accepted: %v", c.name, err)
			}
		})
		if n > 16<<20 { // rawLen plus the frame's 8 MiB window, never the 48 MiB it expands to
			t.Errorf("%s: refusing a %d-byte frame allocated %d bytes for rawLen 1000", c.name, len(c.framed), n)
		}
	}
}

// FuzzDecode feeds arbitrary frames: Decode never panics, fails only with
// ErrCorrupt, and on success returns exactly rawLen bytes, which Encode
// and Decode carry through unchanged.
func FuzzDecode(f *testing.F) {
	for _, in := range [][]byte{nil, []byte("x"), text(300), text(5000)} {
		framed, err := Encode(nil, in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(framed, uint16(len(in)))
	}
	f.Add(zstdFrame(f, text(100)), uint16(100))
	f.Add(zstdFrame(f, text(200)), uint16(200)) // no size in the header
	f.Add([]byte{Zstd, 0x28, 0xb5, 0x2f, 0xfd}, uint16(0))
	f.Add([]byte{7, 1, 2}, uint16(2))
	f.Fuzz(func(t *testing.T, framed []byte, rawLen uint16) {
		out, err := Decode(nil, framed, int(rawLen))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if len(out) != int(rawLen) {
			t.Fatalf("decoded %d bytes, rawLen %d", len(out), rawLen)
		}
		reframed, err := Encode(nil, out)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Decode(nil, reframed, int(rawLen))
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("re-encoded output does not decode to itself: %v", err)
		}
	})
}

// TestLevels: auto and max frame what they can shrink as zstd and the
// rest raw, fast frames everything raw, and Decode restores each; max
// shrinks text at least as well as auto.
func TestLevels(t *testing.T) {
	inputs := map[string][]byte{
		"small text":   text(3000),
		"large text":   text(300000),
		"small random": randomBytes(t, 3000),
		"large random": randomBytes(t, 300000),
	}
	sizes := map[string][numLevels]int{}
	for _, l := range []Level{Auto, Fast, Max} {
		for name, in := range inputs {
			framed, err := EncodeLevel(nil, in, l)
			if err != nil {
				t.Fatal(err)
			}
			wantMarker := Zstd
			if l == Fast || bytes.Contains([]byte(name), []byte("random")) {
				wantMarker = Raw
			}
			if framed[0] != wantMarker {
				t.Errorf("%s at %s: marker %d, want %d", name, l, framed[0], wantMarker)
			}
			out, err := Decode(nil, framed, len(in))
			if err != nil || !bytes.Equal(out, in) {
				t.Fatalf("%s at %s: does not decode to its input: %v", name, l, err)
			}
			s := sizes[name]
			s[l] = len(framed)
			sizes[name] = s
		}
	}
	for name, s := range sizes {
		if s[Max] > s[Auto] || s[Auto] > s[Fast] {
			t.Errorf("%s: max (%d bytes), auto (%d), fast (%d) not in order", name, s[Max], s[Auto], s[Fast])
		}
	}
}

// TestLooksRandom: the entropy sample tells random and compressed bytes
// from text, code-like bytes and runs, at every size up to 8 KiB.
func TestLooksRandom(t *testing.T) {
	for _, n := range []int{512, 1024, 4096, 8192} {
		for _, c := range []struct {
			name string
			in   []byte
			want bool
		}{
			{"random", randomBytes(t, n), true},
			{"text", text(n), false},
			{"zeros", make([]byte, n), false},
			{"base64 of random", []byte(base64.StdEncoding.EncodeToString(randomBytes(t, n))[:n]), false},
			{"seven-bit random", sevenBits(randomBytes(t, n)), false},
		} {
			if got := looksRandom(c.in); got != c.want {
				t.Errorf("%s of %d bytes: looksRandom = %v, want %v", c.name, n, got, c.want)
			}
		}
	}
}

// TestCompressible: a blob longer than two samples is taken for random
// only if its start, middle and end all look random, so compressible
// content anywhere a sample falls is tried.
func TestCompressible(t *testing.T) {
	const n = 1 << 20
	with := func(off int) []byte {
		b := randomBytes(t, n)
		copy(b[off:], text(sampleSize))
		return b
	}
	for _, c := range []struct {
		name string
		in   []byte
		want bool
	}{
		{"random", randomBytes(t, n), false},
		{"text", text(n), true},
		{"random with text at its start", with(0), true},
		{"random with text in its middle", with((n - sampleSize) / 2), true},
		{"random with text at its end", with(n - sampleSize), true},
		{"random with text between the samples", with(n / 4), false},
		{"small random", randomBytes(t, 2*sampleSize), false},
		{"small text", text(2 * sampleSize), true},
	} {
		if got := compressible(c.in); got != c.want {
			t.Errorf("%s: compressible = %v, want %v", c.name, got, c.want)
		}
	}
}

func sevenBits(b []byte) []byte {
	for i := range b {
		b[i] &= 0x7f
	}
	return b
}

func TestParseLevel(t *testing.T) {
	for _, l := range []Level{Auto, Fast, Max} {
		if got, err := ParseLevel(l.String()); got != l || err != nil {
			t.Errorf("ParseLevel(%q) = %v, %v", l, got, err)
		}
	}
	if _, err := ParseLevel("best"); err == nil {
		t.Error("ParseLevel accepted an unknown level")
	}
}

// farRepeats is base64 text, not compressible by short matches, in which
// a block recurs just inside the largest distance a blob of n bytes
// allows, so an encoder whose window cut that distance would differ.
func farRepeats(t testing.TB, n int) []byte {
	b := []byte(base64.StdEncoding.EncodeToString(randomBytes(t, n)))[:n]
	if n >= 2048 {
		copy(b[n-1024:], b[:1024])
	}
	return b
}

// TestWindowSameOutput checks that compressing with the pooled encoders,
// whose window is the smallest that holds the blob, gives the very bytes
// zstd's default window gives, at every level and at the sizes where the
// window class and the frame header change.
func TestWindowSameOutput(t *testing.T) {
	sizes := []int{64, 1024, 1025, 4096, 128 << 10, 128<<10 + 1, 256 << 10, 256<<10 + 1, 4 << 20, 4<<20 + 1}
	for _, l := range []Level{Auto, Max} {
		ref, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstdLevels[l]),
			zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range sizes {
			if l == Max && n > 256<<10 && testing.Short() {
				continue
			}
			src := farRepeats(t, n)
			e, err := getEncoder(l, windowClass(n))
			if err != nil {
				t.Fatal(err)
			}
			got, want := e.EncodeAll(src, nil), ref.EncodeAll(src, nil)
			if !bytes.Equal(got, want) {
				t.Errorf("%v, %d bytes: window %d gives %d bytes, the default window %d", l, n, windows[windowClass(n)], len(got), len(want))
			}
		}
	}
}

// Package compress frames blob plaintexts before encryption: each is stored
// either as is or zstd-compressed, whichever is smaller, behind a one-byte
// marker (docs/format.md §3.2). Decompression is bounded by the length the
// caller expects, so a hostile blob cannot make it allocate without limit.
package compress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// MaxRaw is the largest plaintext any blob may have; no decoder ever
// produces more.
const MaxRaw = 64 << 20

// Frame markers, the first plaintext byte of every blob.
const (
	Raw  byte = 0
	Zstd byte = 1
)

// minSavingDiv sets the fraction of the input compression must save to be kept:
// storing a blob raw is cheaper to read back.
const minSavingDiv = 32 // keep zstd only if it saves more than 1/32

// Level chooses how hard EncodeLevel tries to shrink a blob (docs/format.md
// §3.2). Readers read any zstd frame and raw frames alike, so the level is
// the writer's choice alone and never affects a blob's ID.
type Level int

// The levels, as backup --compression names them.
const (
	Auto Level = iota // zstd's fastest level; blobs whose samples look random are stored raw
	Fast              // no compression: every blob is stored raw
	Max               // zstd's best level; every blob of 64 bytes or more is tried
	numLevels
)

var levelNames = [numLevels]string{"auto", "fast", "max"}

func (l Level) String() string { return levelNames[l] }

// ParseLevel returns the level named s: auto, fast or max.
func ParseLevel(s string) (Level, error) {
	for l, name := range levelNames {
		if s == name {
			return Level(l), nil
		}
	}
	return Auto, fmt.Errorf("unknown compression %q: want auto, fast or max", s)
}

// zstdLevels are the encoder levels of each Level that compresses.
var zstdLevels = [numLevels]zstd.EncoderLevel{Auto: zstd.SpeedFastest, Max: zstd.SpeedBestCompression}

// windows are the zstd windows of the encoder pools, smallest first: a
// blob is compressed by an encoder whose window is the smallest that holds
// it whole, so an encoder's history buffer (as large as its window) is no
// larger than the blobs it compresses. Larger blobs use the level's default
// window (0 here: 4 MiB at level Auto, 8 MiB at Max). The output does not depend on the window while it
// holds the whole blob: the frame is then a single segment, whose header
// records the content size and no window (RFC 8878 §3.1.1.1.1.2), and no
// match reaches further back than the blob's start (TestWindowSameOutput).
var windows = [...]int{256 << 10, 4 << 20, 0}

// idleEncoders bounds the encoders kept idle per level and window.
const idleEncoders = 8

var (
	// encoders hold idle encoders by level and window. Unlike a sync.Pool
	// they survive collections: a new encoder allocates its window and
	// tables again (megabytes), and a backup collects often.
	encoders [numLevels][len(windows)]chan *zstd.Encoder
	decoders = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(MaxRaw), zstd.WithDecoderMaxWindow(MaxRaw))
		if err != nil {
			return err
		}
		return d
	}}
)

func init() {
	for l := range encoders {
		for w := range windows {
			encoders[l][w] = make(chan *zstd.Encoder, idleEncoders)
		}
	}
}

// newEncoder returns a zstd encoder at level l with the given window, or
// the error that prevented it. A window of 0 is the level's default.
func newEncoder(l Level, window int) (*zstd.Encoder, error) {
	o := []zstd.EOption{zstd.WithEncoderLevel(zstdLevels[l]), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true)}
	if window > 0 {
		o = append(o, zstd.WithWindowSize(window))
	}
	return zstd.NewWriter(nil, o...)
}

// windowClass returns the index in windows of the encoders for a blob of
// n bytes: the smallest window that holds it, or the last.
func windowClass(n int) int {
	for w, size := range windows[:len(windows)-1] {
		if n <= size {
			return w
		}
	}
	return len(windows) - 1
}

// Encode appends the framed form of src to dst at level Auto.
func Encode(dst, src []byte) ([]byte, error) { return EncodeLevel(dst, src, Auto) }

// EncodeLevel appends the framed form of src to dst: the marker Zstd and
// the bytes compressed at level l if l compresses, src looks compressible
// at l and that saves space, otherwise the marker Raw and src.
func EncodeLevel(dst, src []byte, l Level) ([]byte, error) {
	n := len(dst)
	if l != Fast && len(src) >= 64 && (l == Max || compressible(src)) {
		w := windowClass(len(src))
		e, err := getEncoder(l, w)
		if err != nil {
			return nil, err
		}
		dst = append(dst, Zstd)
		dst = e.EncodeAll(src, dst)
		putEncoder(l, w, e)
		if len(dst)-n-1 < len(src)-len(src)/minSavingDiv {
			return dst, nil
		}
		dst = dst[:n]
	}
	dst = append(dst, Raw)
	return append(dst, src...), nil
}

// sampleSize is the length of each sample compressible looks at.
const sampleSize = 4096

// compressible estimates cheaply whether zstd can shrink src: data that is
// already compressed or encrypted is not worth the attempt. A blob of at
// most 2·sampleSize bytes is judged by the entropy of all its bytes; a
// longer one by three samples of sampleSize bytes, at its start, middle
// and end, and is taken for random only if all three look random
// (docs/format.md §3.2). Counting bytes costs a fraction of compressing
// them, so random data costs little more than the count.
func compressible(src []byte) bool {
	if len(src) <= 2*sampleSize {
		return !looksRandom(src)
	}
	for _, off := range [...]int{0, (len(src) - sampleSize) / 2, len(src) - sampleSize} {
		if !looksRandom(src[off : off+sampleSize]) {
			return true
		}
	}
	return false
}

// randomBits is the entropy, in bits per byte, from which a blob is taken
// for random: compressed and encrypted data measure about 8, text 4 to 5,
// machine code about 6.
const randomBits = 7.5

// looksRandom reports whether the bytes of b, at most 2·sampleSize of
// them, have an entropy of randomBits per byte or more, by their
// frequencies with the Miller–Madow correction of the bias that makes a
// short sample of random bytes look less random than it is. With counts
// k_b over n bytes, −Σ p_b·log2 p_b = log2 n − (Σ k_b·log2 k_b)/n, whose
// terms come from a table.
func looksRandom(b []byte) bool {
	counts := countBytes(b)
	n := float64(len(b))
	klogk := klogkTable()
	sum, seen := 0.0, 0
	for _, k := range counts {
		if k > 0 {
			sum += klogk[k]
			seen++
		}
	}
	h := math.Log2(n) - sum/n + float64(seen-1)/(2*n*math.Ln2)
	return h >= randomBits
}

// countBytes counts each byte value of b in four interleaved tables, so
// that runs of one value do not serialize the increments.
func countBytes(b []byte) [256]int {
	var c [4][256]int
	i := 0
	for ; i+4 <= len(b); i += 4 {
		c[0][b[i]]++
		c[1][b[i+1]]++
		c[2][b[i+2]]++
		c[3][b[i+3]]++
	}
	for ; i < len(b); i++ {
		c[0][b[i]]++
	}
	for v := range c[0] {
		c[0][v] += c[1][v] + c[2][v] + c[3][v]
	}
	return c[0]
}

// klogkTable holds k·log2 k for every count k a sample can have.
var klogkTable = sync.OnceValue(func() *[2*sampleSize + 1]float64 {
	var t [2*sampleSize + 1]float64
	for k := 1; k < len(t); k++ {
		t[k] = float64(k) * math.Log2(float64(k))
	}
	return &t
})

// getEncoder returns an idle encoder at level l with window windows[w], or
// a new one.
func getEncoder(l Level, w int) (*zstd.Encoder, error) {
	select {
	case e := <-encoders[l][w]:
		return e, nil
	default:
	}
	e, err := newEncoder(l, windows[w])
	if err != nil {
		return nil, fmt.Errorf("zstd encoder: %w", err)
	}
	return e, nil
}

// putEncoder keeps e, taken with getEncoder(l, w), for reuse, unless
// idleEncoders are kept already.
func putEncoder(l Level, w int, e *zstd.Encoder) {
	select {
	case encoders[l][w] <- e:
	default:
	}
}

// ErrCorrupt is wrapped by every decoding error.
var ErrCorrupt = errors.New("corrupt compressed blob")

// Decode appends the plaintext of a framed blob to dst. The plaintext must
// be exactly rawLen bytes long. Decoding allocates at most rawLen bytes plus
// the frame's window (itself at most MaxRaw): a frame that expands further
// is refused without being decompressed in full.
func Decode(dst, framed []byte, rawLen int) ([]byte, error) {
	if len(framed) == 0 {
		return nil, fmt.Errorf("empty frame: %w", ErrCorrupt)
	}
	body := framed[1:]
	switch framed[0] {
	case Raw:
		if len(body) != rawLen {
			return nil, fmt.Errorf("raw frame of %d bytes, expected %d: %w", len(body), rawLen, ErrCorrupt)
		}
		return append(dst, body...), nil
	case Zstd:
		return decodeZstd(dst, body, rawLen)
	}
	return nil, fmt.Errorf("unknown frame marker %d: %w", framed[0], ErrCorrupt)
}

func decodeZstd(dst, body []byte, rawLen int) ([]byte, error) {
	if rawLen > MaxRaw {
		return nil, fmt.Errorf("declared length %d exceeds %d: %w", rawLen, MaxRaw, ErrCorrupt)
	}
	var h zstd.Header
	if err := h.Decode(body); err != nil || (h.HasFCS && h.FrameContentSize != uint64(rawLen)) {
		return nil, fmt.Errorf("zstd frame header does not declare %d bytes: %w", rawLen, ErrCorrupt)
	}
	var d *zstd.Decoder
	switch v := decoders.Get().(type) {
	case *zstd.Decoder:
		d = v
	case error:
		return nil, fmt.Errorf("zstd decoder: %w", v)
	}
	defer decoders.Put(d)
	// Stream into exactly rawLen bytes, then insist on the end: a frame that
	// expands further is refused without ever being decompressed in full.
	if err := d.Reset(bytes.NewReader(body)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	defer d.Reset(nil) //nolint:errcheck // releasing the input; nothing to report
	n := len(dst)
	out := slices.Grow(dst, rawLen)[:n+rawLen]
	if _, err := io.ReadFull(d, out[n:]); err != nil {
		return nil, fmt.Errorf("zstd frame decodes to fewer than %d bytes: %w: %w", rawLen, ErrCorrupt, err)
	}
	var extra [1]byte
	if k, err := d.Read(extra[:]); k != 0 || err != io.EOF {
		return nil, fmt.Errorf("zstd frame decodes to more than %d bytes: %w", rawLen, ErrCorrupt)
	}
	return out, nil
}

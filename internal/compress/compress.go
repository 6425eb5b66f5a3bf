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

var (
	encoders = sync.Pool{New: func() any {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
		if err != nil {
			return err
		}
		return e
	}}
	decoders = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(MaxRaw), zstd.WithDecoderMaxWindow(MaxRaw))
		if err != nil {
			return err
		}
		return d
	}}
)

// Encode appends the framed form of src to dst: the marker Zstd and the
// compressed bytes if that saves space, otherwise the marker Raw and src.
func Encode(dst, src []byte) ([]byte, error) {
	n := len(dst)
	if len(src) >= 64 && compressible(src) {
		e, err := getEncoder()
		if err != nil {
			return nil, err
		}
		dst = append(dst, Zstd)
		dst = e.EncodeAll(src, dst)
		encoders.Put(e)
		if len(dst)-n-1 < len(src)-len(src)/minSavingDiv {
			return dst, nil
		}
		dst = dst[:n]
	}
	dst = append(dst, Raw)
	return append(dst, src...), nil
}

// compressible estimates cheaply, from a sample, whether zstd can shrink src:
// data that is already compressed or encrypted is not worth the attempt.
func compressible(src []byte) bool {
	const sample = 4096
	if len(src) <= 2*sample {
		return true
	}
	e, err := getEncoder()
	if err != nil {
		return true
	}
	defer encoders.Put(e)
	mid := len(src) / 2
	var buf [2 * sample]byte
	out := e.EncodeAll(src[mid:mid+sample], buf[:0])
	return len(out) < sample-sample/16
}

func getEncoder() (*zstd.Encoder, error) {
	switch v := encoders.Get().(type) {
	case *zstd.Encoder:
		return v, nil
	case error:
		return nil, fmt.Errorf("zstd encoder: %w", v)
	}
	return nil, errors.New("zstd encoder: unexpected pool value")
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

package chunker

import (
	"errors"
	"fmt"
	"io"
)

// maxEmptyReads is how many consecutive empty, error-free reads the chunker
// tolerates before it reports io.ErrNoProgress (as bufio does).
const maxEmptyReads = 100

// Chunker cuts the stream of an io.Reader into content-defined chunks
// (docs/format.md §3.1). It owns one buffer of 2·Max bytes, kept across
// Reset so that a worker can reuse it for many files. It is not safe for
// concurrent use.
type Chunker struct {
	cfg        cutter
	r          io.Reader
	buf        []byte
	start, end int   // buf[start:end] is read but not yet returned
	eof        bool  // r has reported io.EOF
	err        error // sticky read error
}

// New returns a chunker reading r with the given gear table (from
// crypt.GearTable) and parameters. It fails if table is nil or p is invalid.
func New(r io.Reader, table *[256]uint64, p Params) (*Chunker, error) {
	cfg, err := newCutter(table, p)
	if err != nil {
		return nil, err
	}
	return &Chunker{cfg: cfg, r: r, buf: make([]byte, 2*p.Max)}, nil
}

// Reset makes the chunker read r from its start, forgetting all state of the
// previous reader but keeping the buffer, table and parameters.
func (c *Chunker) Reset(r io.Reader) {
	*c = Chunker{cfg: c.cfg, r: r, buf: c.buf}
}

// Next returns the next chunk of the stream. The slice aliases the internal
// buffer: it is valid only until the next call to Next or Reset, and must be
// copied to be kept. After the last chunk Next returns io.EOF; an empty
// stream has no chunks. A read error is returned wrapped, and again by every
// later call until Reset; the chunks not yet returned are then lost.
func (c *Chunker) Next() ([]byte, error) {
	if err := c.fill(); err != nil {
		c.err = err
		return nil, err
	}
	if c.start == c.end {
		return nil, io.EOF
	}
	n := c.cfg.cut(c.buf[c.start:c.end])
	chunk := c.buf[c.start : c.start+n : c.start+n]
	c.start += n
	return chunk, nil
}

// fill ensures that the buffer holds at least Max unreturned bytes, or all
// the rest of the stream, so that a cut on it is final. It moves the
// unreturned bytes to the front of the buffer only when the space after them
// is too short, then reads until the buffer is full or the stream ends.
func (c *Chunker) fill() error {
	if c.err != nil || c.eof || c.end-c.start >= c.cfg.max {
		return c.err
	}
	if len(c.buf)-c.start < c.cfg.max {
		c.end = copy(c.buf, c.buf[c.start:c.end])
		c.start = 0
	}
	for empty := 0; c.end < len(c.buf); {
		n, err := c.r.Read(c.buf[c.end:])
		if n < 0 || n > len(c.buf)-c.end {
			return fmt.Errorf("chunker: reader returned invalid count %d", n)
		}
		c.end += n
		switch {
		case errors.Is(err, io.EOF):
			c.eof = true
			return nil
		case err != nil:
			return fmt.Errorf("chunker: reading input: %w", err)
		case n > 0:
			empty = 0
		default:
			if empty++; empty >= maxEmptyReads {
				return fmt.Errorf("chunker: reading input: %w", io.ErrNoProgress)
			}
		}
	}
	return nil
}

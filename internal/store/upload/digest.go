package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
)

// SHA256 returns the SHA-256 of the bytes to send: from a pass over a
// seekable reader, which it then rewinds, or over the reader read into
// memory if it is at most maxBuffered bytes, which then stand in for it.
// It fails unless the reader yields exactly the size, or once ctx is done.
// A larger unseekable reader is left as it is, and the sum is nil.
func (u *Upload) SHA256(maxBuffered int64) ([]byte, error) {
	h := sha256.New()
	switch {
	case u.seeker != nil:
		if err := copyExact(u.ctx, h, u.r, u.size); err != nil {
			return nil, err
		}
		if _, err := u.seeker.Seek(u.start, io.SeekStart); err != nil {
			return nil, err
		}
	case u.size <= maxBuffered:
		buf := bytes.NewBuffer(make([]byte, 0, u.size))
		if err := copyExact(u.ctx, io.MultiWriter(buf, h), u.r, u.size); err != nil {
			return nil, err
		}
		u.r = bytes.NewReader(buf.Bytes())
		u.seek()
	default:
		return nil, nil
	}
	return h.Sum(nil), nil
}

// copyExact copies r to w and fails unless r yields exactly size bytes and
// then io.EOF, or once ctx is done.
func copyExact(ctx context.Context, w io.Writer, r io.Reader, size int64) error {
	n, err := io.Copy(w, io.LimitReader(CtxReader{ctx, r}, size))
	if err != nil {
		return err
	}
	if n < size {
		return fmt.Errorf("the data ended %d bytes short of its given size: %w", size-n, io.ErrUnexpectedEOF)
	}
	if err := (&Body{r: r}).end(); err != io.EOF {
		return err
	}
	return nil
}

// CtxReader fails every Read once Ctx is done, even the Read of R that
// saw it done.
type CtxReader struct {
	Ctx context.Context
	R   io.Reader
}

func (c CtxReader) Read(p []byte) (int, error) {
	if err := c.Ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.R.Read(p)
	if cerr := c.Ctx.Err(); cerr != nil {
		return 0, cerr // checked after reading R, which may be what cancelled Ctx
	}
	return n, err
}

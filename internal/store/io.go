package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// The helpers below are shared by the backends, so that they check calls,
// copy the caller's bytes and read objects back in one way.

// CheckOp validates the arguments of operation op on kind/name before a
// backend touches anything, naming the operation and object in its error.
func CheckOp(ctx context.Context, op string, kind Kind, name string) error {
	if err := CheckName(kind, name); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s/%s: %w", op, kind, name, err)
	}
	return nil
}

// CopyExact copies r to w and fails unless r yields exactly size bytes and
// then ends, or once ctx is done. It moves up to copyChunk bytes per write,
// so that an object reaches a file or a socket in a few system calls.
func CopyExact(ctx context.Context, w io.Writer, r io.Reader, size int64) error {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	cr := CtxReader{ctx, r}
	for left := size; left > 0; {
		n, err := fill(cr, (*bp)[:min(int64(len(*bp)), left)])
		if n > 0 {
			if err := writeAll(w, (*bp)[:n]); err != nil {
				return err
			}
		}
		left -= int64(n)
		switch {
		case err == io.EOF && left > 0:
			return fmt.Errorf("the data ended %d bytes short of its given size: %w", left, io.ErrUnexpectedEOF)
		case err != nil && err != io.EOF:
			return err
		}
	}
	return Ends(r)
}

// copyChunk is the most CopyExact reads before it writes.
const copyChunk = 1 << 20

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyChunk); return &b }}

// writeAll writes b to w, failing as io.Copy does if w takes less.
func writeAll(w io.Writer, b []byte) error {
	n, err := w.Write(b)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	return err
}

// fill reads r into b until b is full, r ends or r fails. Unlike
// io.ReadFull, it returns an error that comes with the last bytes (io.EOF
// included), so that a reader's verdict at its end is never lost.
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Ends returns nil if r has no byte left, else why not: it reads one byte.
func Ends(r io.Reader) error {
	var one [1]byte
	switch n, err := io.ReadFull(r, one[:]); {
	case n > 0:
		return errors.New("the data is longer than its given size")
	case err != io.EOF:
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

// HTTPRange returns the HTTP Range header of length bytes at offset, to the
// end if length is negative.
func HTTPRange(offset, length int64) string {
	if length < 0 {
		return fmt.Sprintf("bytes=%d-", offset)
	}
	return fmt.Sprintf("bytes=%d-%d", offset, offset+length-1)
}

// rangeReader reads exactly left bytes of an object, fails once ctx is
// done and reports an object that ends early as io.ErrUnexpectedEOF.
type rangeReader struct {
	ctx  context.Context
	r    io.Reader
	c    io.Closer
	what string // the object, as errors name it
	left int64
}

// RangeReader returns a reader of the n bytes of object what that r holds,
// closing c when closed. It fails once ctx is done, and fails with
// io.ErrUnexpectedEOF if r ends before n bytes.
func RangeReader(ctx context.Context, r io.Reader, c io.Closer, what string, n int64) io.ReadCloser {
	return &rangeReader{ctx: ctx, r: r, c: c, what: what, left: n}
}

func (r *rangeReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if err := r.ctx.Err(); err != nil {
		return 0, fmt.Errorf("reading %s: %w", r.what, err)
	}
	n, err := r.r.Read(p[:min(int64(len(p)), r.left)])
	r.left -= int64(n)
	switch {
	case err == io.EOF && r.left > 0:
		return n, fmt.Errorf("reading %s: object ends %d bytes early: %w", r.what, r.left, io.ErrUnexpectedEOF)
	case err == io.EOF || err == nil:
		return n, nil
	default:
		return n, fmt.Errorf("reading %s: %w", r.what, err)
	}
}

func (r *rangeReader) Close() error { return r.c.Close() }

// Sleep waits for d, or fails once ctx is done: the pause of a backend
// before it retries.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

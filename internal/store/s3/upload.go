package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/coffer-backup/coffer/internal/store"
)

// errDetached is what the transport reads from a body after its try is over.
var errDetached = errors.New("upload body read after its request ended")

// maxBuffered bounds the bytes of an unseekable reader that Put reads
// into memory to learn their SHA-256 before sending them.
const maxBuffered = 32 << 20

// upload feeds the caller's reader to the tries of one Put.
type upload struct {
	ctx    context.Context // the Put's: once it is done, no body sends another byte
	r      io.Reader
	size   int64
	sum    string    // the bytes' SHA-256 in base64, or "" if unknown
	seeker io.Seeker // r as a Seeker, or nil if it cannot be rewound
	start  int64     // where r started
	cur    *body     // the body of the latest try
}

// newUpload prepares size bytes of r for sending within ctx as kind/name,
// learning their SHA-256 if it can (Put). A zero-byte upload sends no
// body, so r is checked to be empty here.
func newUpload(ctx context.Context, kind store.Kind, name string, r io.Reader, size int64) (*upload, error) {
	if size < 0 {
		return nil, fmt.Errorf("negative size %d", size)
	}
	u := &upload{ctx: ctx, r: r, size: size, cur: &body{}}
	u.seek()
	var err error
	if sum, ok := contentSum(kind, name); ok {
		u.sum = sum
	} else if err = u.digest(); err != nil {
		return nil, err
	}
	if size == 0 {
		if err := (&body{r: u.r}).end(); err != io.EOF {
			return nil, err
		}
	}
	return u, nil
}

// seek notes where r starts, if it can be rewound there.
func (u *upload) seek() {
	if sk, ok := u.r.(io.Seeker); ok {
		if pos, err := sk.Seek(0, io.SeekCurrent); err == nil {
			u.seeker, u.start = sk, pos
		}
	}
}

// digest computes u.sum: in a pass over a seekable r, which it then
// rewinds, or over r read into memory, which then replaces it. It fails
// unless r yields exactly size bytes. A large unseekable r is left as it
// is, without a sum.
func (u *upload) digest() error {
	h := sha256.New()
	switch {
	case u.seeker != nil:
		if err := copyExact(u.ctx, h, u.r, u.size); err != nil {
			return err
		}
		if _, err := u.seeker.Seek(u.start, io.SeekStart); err != nil {
			return err
		}
	case u.size <= maxBuffered:
		buf := bytes.NewBuffer(make([]byte, 0, u.size))
		if err := copyExact(u.ctx, io.MultiWriter(buf, h), u.r, u.size); err != nil {
			return err
		}
		u.r = bytes.NewReader(buf.Bytes())
		u.seek()
	default:
		return nil
	}
	u.sum = base64.StdEncoding.EncodeToString(h.Sum(nil))
	return nil
}

// copyExact copies r to w and fails unless r yields exactly size bytes and
// then io.EOF, or once ctx is done.
func copyExact(ctx context.Context, w io.Writer, r io.Reader, size int64) error {
	n, err := io.Copy(w, io.LimitReader(ctxReader{ctx, r}, size))
	if err != nil {
		return err
	}
	if n < size {
		return fmt.Errorf("the data ended %d bytes short of its given size: %w", size-n, io.ErrUnexpectedEOF)
	}
	if err := (&body{r: r}).end(); err != io.EOF {
		return err
	}
	return nil
}

// ctxReader fails every Read once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	if cerr := c.ctx.Err(); cerr != nil {
		return 0, cerr // checked after reading r, which may be what cancelled ctx
	}
	return n, err
}

// open returns the body of a new try, or nil for an empty object.
func (u *upload) open() io.Reader {
	u.cur = &body{ctx: u.ctx, r: u.r, left: u.size}
	if u.size == 0 {
		return nil
	}
	return u.cur
}

// rewindable reports whether r can be read again for another try.
func (u *upload) rewindable() bool { return u.seeker != nil }

// rewind detaches the latest body and seeks r back to its start.
func (u *upload) rewind() error {
	u.detach()
	if u.seeker == nil {
		return errors.New("the data cannot be read again")
	}
	_, err := u.seeker.Seek(u.start, io.SeekStart)
	return err
}

// reread returns the size bytes of r again, from the start.
func (u *upload) reread() (io.Reader, error) {
	if err := u.rewind(); err != nil {
		return nil, err
	}
	return io.LimitReader(u.r, u.size), nil
}

// detach stops the latest body from reading r.
func (u *upload) detach() { u.cur.detach() }

// failure is why reading the latest body failed, or nil.
func (u *upload) failure() error { return u.cur.failure() }

// body is the request body of one try: exactly left more bytes of r. It
// withholds the last bytes until r has shown that it ends there, so the
// service never receives a whole object from a reader that is too long or
// fails at its end. It fails, delivering nothing more, once ctx is done,
// so a Put cancelled midway cannot complete the object while the transport
// notices the cancellation. Once detached it no longer touches r, so the
// transport, which may read on after a request ends, never reads the
// caller's reader after Put returns.
type body struct {
	mu    sync.Mutex
	ctx   context.Context
	r     io.Reader // nil once detached
	left  int64
	ended bool  // r has been seen to end after its last byte
	err   error // why reading failed, if it did
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if b.r == nil {
		return 0, errDetached
	}
	n, err := b.next(p)
	if cerr := b.ctx.Err(); cerr != nil {
		err = cerr // checked after reading r, which may be what cancelled ctx
	}
	if err != nil && err != io.EOF {
		b.err = err
		return 0, err
	}
	return n, err
}

// next reads from r at most the bytes left, and checks that r ends after
// the last of them.
func (b *body) next(p []byte) (int, error) {
	var n int
	var err error
	if b.left > 0 {
		n, err = b.r.Read(p[:min(int64(len(p)), b.left)])
		b.left -= int64(n)
	}
	switch {
	case b.left == 0 && (err == nil || err == io.EOF):
		return n, b.end()
	case err == io.EOF:
		return n, fmt.Errorf("the data ended %d bytes short of its given size: %w", b.left, io.ErrUnexpectedEOF)
	}
	return n, err
}

// end returns io.EOF if r has no byte left, else why not.
func (b *body) end() error {
	if b.ended {
		return io.EOF
	}
	var one [1]byte
	switch n, err := io.ReadFull(b.r, one[:]); {
	case n > 0:
		return errors.New("the data is longer than its given size")
	case err != io.EOF:
		return err
	}
	b.ended = true
	return io.EOF
}

func (b *body) detach() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.r = nil
}

func (b *body) failure() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

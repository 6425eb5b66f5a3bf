package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// errDetached is what the transport reads from a body after its try is over.
var errDetached = errors.New("upload body read after its request ended")

// upload feeds the caller's reader to the tries of one Put.
type upload struct {
	ctx    context.Context // the Put's: once it is done, no body sends another byte
	r      io.Reader
	size   int64
	seeker io.Seeker // r as a Seeker, or nil if it cannot be rewound
	start  int64     // where r started
	cur    *body     // the body of the latest try
}

// newUpload prepares size bytes of r for sending within ctx. A zero-byte
// upload sends no body, so r is checked to be empty here.
func newUpload(ctx context.Context, r io.Reader, size int64) (*upload, error) {
	if size < 0 {
		return nil, fmt.Errorf("negative size %d", size)
	}
	u := &upload{ctx: ctx, r: r, size: size, cur: &body{}}
	if sk, ok := r.(io.Seeker); ok {
		if pos, err := sk.Seek(0, io.SeekCurrent); err == nil {
			u.seeker, u.start = sk, pos
		}
	}
	if size == 0 {
		if err := (&body{r: r}).end(); err != io.EOF {
			return nil, err
		}
	}
	return u, nil
}

// open returns the body of try number try (from 1), rewinding r for every
// try after the first.
func (u *upload) open(try int) (io.ReadCloser, int64, error) {
	if try > 1 {
		if err := u.rewind(); err != nil {
			return nil, 0, err
		}
	}
	u.cur = &body{ctx: u.ctx, r: u.r, left: u.size}
	return u.cur, u.size, nil
}

// reread returns the size bytes of r again, from the start.
func (u *upload) reread() (io.Reader, error) {
	if err := u.rewind(); err != nil {
		return nil, err
	}
	return io.LimitReader(u.r, u.size), nil
}

// rewind detaches the latest body and seeks r back to its start.
func (u *upload) rewind() error {
	u.detach()
	if u.seeker == nil {
		return errors.New("the data cannot be read again to retry")
	}
	_, err := u.seeker.Seek(u.start, io.SeekStart)
	return err
}

// detach stops the latest body from reading r.
func (u *upload) detach() { u.cur.detach() }

// failure is why reading the latest body failed, or nil.
func (u *upload) failure() error { return u.cur.failure() }

// body is the request body of one try: exactly left more bytes of r. It
// withholds the last bytes until r has shown that it ends there, so the
// server never receives a whole object from a reader that is too long or
// fails at its end. It fails, delivering nothing more, once ctx is done:
// the transport notices a cancelled request only some time after the
// cancellation and meanwhile goes on sending, so without this check a Put
// cancelled midway could still deliver the whole object and have it
// stored. Once detached it no longer touches r, so the transport, which may
// read on after a request ends, never reads the caller's reader after Put
// returns.
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
	var (
		n   int
		err error
	)
	if b.left > 0 {
		n, err = b.r.Read(p[:min(int64(len(p)), b.left)])
		b.left -= int64(n)
	}
	switch {
	case b.left == 0 && (err == nil || err == io.EOF):
		err = b.end()
	case err == io.EOF:
		err = fmt.Errorf("the data ended %d bytes short of its given size: %w", b.left, io.ErrUnexpectedEOF)
	}
	if cerr := b.ctx.Err(); cerr != nil {
		err = cerr // checked after reading r, which may be what cancelled ctx
	}
	if err != nil && err != io.EOF {
		b.err = err
		return 0, err
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

// Close does nothing: the caller's reader is the caller's to close.
func (b *body) Close() error { return nil }

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

package upload

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/coffer-backup/coffer/internal/store"
)

// Body is the request body of one try: exactly left more bytes of r, with
// the guarantees of the package comment.
type Body struct {
	mu    sync.Mutex
	ctx   context.Context
	r     io.Reader // nil once detached
	left  int64
	ended bool  // r has been seen to end after its last byte
	err   error // why reading failed, if it did
}

func (b *Body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if b.r == nil {
		return 0, ErrDetached
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
func (b *Body) next(p []byte) (int, error) {
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
func (b *Body) end() error {
	if !b.ended {
		if err := store.Ends(b.r); err != nil {
			return err
		}
		b.ended = true
	}
	return io.EOF
}

// Close does nothing: the caller's reader is the caller's to close.
func (b *Body) Close() error { return nil }

func (b *Body) detach() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.r = nil
}

func (b *Body) failure() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

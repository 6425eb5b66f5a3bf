// Package upload feeds a caller's reader to the tries of one Put, for the
// backends that send objects over a network (remote, s3).
//
// It guarantees that the service never receives a whole object unless the
// reader yielded exactly the given size and then ended: every Body
// withholds its last bytes until the reader has shown that it ends there,
// so a reader that is too long, too short or fails at its end is refused.
// A Body fails, delivering nothing more, once the Put's context is done:
// a transport notices a cancelled request only some time after the
// cancellation and meanwhile goes on sending, so without this a Put
// cancelled midway could still deliver the whole object and have it
// stored. Once detached a Body no longer touches the reader, so a
// transport, which may read on after a request ends, never reads the
// caller's reader after Put returns. A seekable reader can be rewound for
// another try; any other is read once.
package upload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/coffer-backup/coffer/internal/store"
)

// ErrDetached is what a transport reads from a Body after its try is over.
var ErrDetached = errors.New("upload body read after its request ended")

// Upload feeds the caller's reader to the tries of one Put.
type Upload struct {
	ctx    context.Context // the Put's: once it is done, no body sends another byte
	r      io.Reader
	size   int64
	seeker io.Seeker // r as a Seeker, or nil if it cannot be rewound
	start  int64     // where r started
	cur    *Body     // the body of the latest try
}

// New prepares size bytes of r for sending within ctx. A zero-byte upload
// sends no body, so r is checked to be empty here.
func New(ctx context.Context, r io.Reader, size int64) (*Upload, error) {
	if size < 0 {
		return nil, fmt.Errorf("negative size %d", size)
	}
	u := &Upload{ctx: ctx, r: r, size: size, cur: &Body{}}
	u.seek()
	if size == 0 {
		if err := store.Ends(r); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// seek notes where r starts, if it can be rewound there.
func (u *Upload) seek() {
	if sk, ok := u.r.(io.Seeker); ok {
		if pos, err := sk.Seek(0, io.SeekCurrent); err == nil {
			u.seeker, u.start = sk, pos
		}
	}
}

// Size is the number of bytes every try sends.
func (u *Upload) Size() int64 { return u.size }

// Rewindable reports whether r can be read again for another try.
func (u *Upload) Rewindable() bool { return u.seeker != nil }

// Body returns the body of a new try, reading r from where it stands.
func (u *Upload) Body() *Body {
	u.cur = &Body{ctx: u.ctx, r: u.r, left: u.size}
	return u.cur
}

// Rewind detaches the latest body and seeks r back to its start.
func (u *Upload) Rewind() error {
	u.Detach()
	if u.seeker == nil {
		return errors.New("the data cannot be read again")
	}
	_, err := u.seeker.Seek(u.start, io.SeekStart)
	return err
}

// Detach stops the latest body from reading r.
func (u *Upload) Detach() { u.cur.detach() }

// Failure is why reading the latest body failed, or nil.
func (u *Upload) Failure() error { return u.cur.failure() }

// Matches reports whether the object that open returns holds the bytes of
// u, read again from the start: the answer to a retry that finds its name
// taken, maybe by its own earlier try whose answer was lost.
func (u *Upload) Matches(open func() (io.ReadCloser, error)) bool {
	if err := u.Rewind(); err != nil {
		return false
	}
	theirs, err := open()
	if err != nil {
		return false
	}
	defer theirs.Close()
	return SameBytes(io.LimitReader(u.r, u.size), theirs)
}

// SameBytes reports whether a and b read the same bytes up to their ends,
// without any other error.
func SameBytes(a, b io.Reader) bool {
	var x, y [32 << 10]byte
	for {
		n, errA := io.ReadFull(a, x[:])
		m, errB := io.ReadFull(b, y[:])
		if !bytes.Equal(x[:n], y[:m]) {
			return false
		}
		if errA != nil || errB != nil {
			return ended(errA) && ended(errB)
		}
	}
}

// ended reports whether err from io.ReadFull means the reader ended.
func ended(err error) bool { return err == io.EOF || err == io.ErrUnexpectedEOF }

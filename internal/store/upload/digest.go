package upload

import (
	"bytes"
	"crypto/sha256"
	"io"

	"github.com/coffer-backup/coffer/internal/store"
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
		if err := store.CopyExact(u.ctx, h, u.r, u.size); err != nil {
			return nil, err
		}
		if _, err := u.seeker.Seek(u.start, io.SeekStart); err != nil {
			return nil, err
		}
	case u.size <= maxBuffered:
		buf := bytes.NewBuffer(make([]byte, 0, u.size))
		if err := store.CopyExact(u.ctx, io.MultiWriter(buf, h), u.r, u.size); err != nil {
			return nil, err
		}
		u.r = bytes.NewReader(buf.Bytes())
		u.seek()
	default:
		return nil, nil
	}
	return h.Sum(nil), nil
}

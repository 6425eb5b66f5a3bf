package s3

import (
	"context"
	"encoding/base64"
	"io"

	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/upload"
)

// maxBuffered bounds the bytes of an unseekable reader that Put reads
// into memory to learn their SHA-256 before sending them.
const maxBuffered = 32 << 20

// newUpload prepares size bytes of r for sending within ctx as kind/name,
// and returns them with their SHA-256 in base64, or "" if it is unknown
// (Put).
func newUpload(ctx context.Context, kind store.Kind, name string, r io.Reader, size int64) (*upload.Upload, string, error) {
	u, err := upload.New(ctx, r, size)
	if err != nil {
		return nil, "", err
	}
	if sum, ok := contentSum(kind, name); ok {
		return u, sum, nil
	}
	sum, err := u.SHA256(maxBuffered)
	if err != nil || sum == nil {
		return u, "", err
	}
	return u, base64.StdEncoding.EncodeToString(sum), nil
}

// body returns the body of a new try of u, or nil for an empty object.
func body(u *upload.Upload) io.Reader {
	b := u.Body()
	if u.Size() == 0 {
		return nil
	}
	return b
}

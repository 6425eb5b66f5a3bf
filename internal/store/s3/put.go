package s3

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/upload"
)

// putTries bounds the tries of one Put; a try is repeated only if the
// caller's reader can be rewound and the failure was the service's or the
// network's.
const putTries = 4

// Put stores exactly size bytes from r as kind/name with one PUT carrying
// If-None-Match: *, so it never replaces an object: if kind/name exists,
// it returns an error wrapping store.ErrExists. A reader that fails, is
// cut short or runs long, or a cancelled ctx, leaves nothing behind: the
// PUT carries the bytes' SHA-256 (x-amz-checksum-sha256), which the
// service verifies before it publishes them, so even a service that keeps
// what it received of a broken connection refuses them. That SHA-256 is
// the name of an object of a content-named kind (packs, index, snapshots)
// named by one, or is computed before sending: in a first pass over a
// seekable reader, or over the bytes of another reader read into memory if
// they are at most 32 MiB. Only a larger unseekable reader of a name that
// is no SHA-256 goes without one, and the last bytes are then held back
// until r has shown that it ends there.
func (s *Store) Put(ctx context.Context, kind store.Kind, name string, r io.Reader, size int64) error {
	if err := store.CheckOp(ctx, "put", kind, name); err != nil {
		return err
	}
	if err := s.put(ctx, kind, name, r, size); err != nil {
		return fmt.Errorf("put %s/%s: %w", kind, name, err)
	}
	return nil
}

// put serves Put, retrying transient failures when r can be rewound. A
// retried PUT that finds the object taken compares it with r: the taking
// may have been its own earlier try, whose answer was lost.
func (s *Store) put(ctx context.Context, kind store.Kind, name string, r io.Reader, size int64) error {
	u, sum, err := newUpload(ctx, kind, name, r, size)
	if err != nil {
		return err
	}
	defer u.Detach()
	for try := 1; ; try++ {
		err := s.putOnce(ctx, kind, name, u, sum)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, store.ErrExists) && try > 1 && s.holds(ctx, kind, name, u):
			return nil
		case errors.Is(err, store.ErrExists), try == putTries, !u.Rewindable(), !transient(err):
			return err
		}
		if perr := pause(ctx, try); perr != nil {
			return fmt.Errorf("%w (not retried: %w)", err, perr)
		}
		if rerr := u.Rewind(); rerr != nil {
			return fmt.Errorf("%w (not retried: %w)", err, rerr)
		}
	}
}

// putOnce sends one PUT of u, with its SHA-256 sum if known. It returns
// the reader's own failure, if that is why the PUT failed, and
// store.ErrExists for a taken name.
func (s *Store) putOnce(ctx context.Context, kind store.Kind, name string, u *upload.Upload, sum string) error {
	in := &awss3.PutObjectInput{
		Bucket:        &s.loc.Bucket,
		Key:           aws.String(s.loc.key(kind, name)),
		Body:          body(u),
		ContentLength: aws.Int64(u.Size()),
		ContentType:   aws.String("application/octet-stream"),
		IfNoneMatch:   aws.String("*"),
	}
	if sum != "" {
		in.ChecksumSHA256 = aws.String(sum)
	}
	_, err := s.client.PutObject(ctx, in, func(o *awss3.Options) { o.Retryer = aws.NopRetryer{} })
	u.Detach()
	if ferr := u.Failure(); ferr != nil {
		return ferr
	}
	return putError(err)
}

// putError maps the answer to a PUT: 412 means the name is taken.
func putError(err error) error {
	switch {
	case err == nil:
		return nil
	case status(err) == 412:
		return store.ErrExists
	case status(err) == 409:
		return fmt.Errorf("another write of the same name was in progress; retry: %w", short(err))
	case code(err) == "BadDigest" || code(err) == "XAmzContentChecksumMismatch":
		return fmt.Errorf("the service found that the bytes it received do not have the SHA-256 sent with them: %w", short(err))
	}
	return short(err)
}

// contentSum returns the base64 SHA-256 an object must have if its kind is
// content-named (docs/format.md §4.1) and its name is a SHA-256, or a
// SHA-256 followed by '.' and anything (the unique keys under which the
// server's object catalog uploads, objects.Cataloged).
func contentSum(kind store.Kind, name string) (string, bool) {
	if len(name) > 64 && name[64] == '.' {
		name = name[:64]
	}
	if kind != store.Packs && kind != store.Index && kind != store.Snapshots || len(name) != 64 {
		return "", false
	}
	sum, err := hex.DecodeString(name)
	if err != nil {
		return "", false
	}
	return base64.StdEncoding.EncodeToString(sum), true
}

// transient reports whether a failed PUT is worth another try: a network
// error, throttling or a 5xx, as the SDK classifies them.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// pause waits before try number try+1: 250 ms, then twice as long each
// time, or until ctx is done.
func pause(ctx context.Context, try int) error {
	return store.Sleep(ctx, 250*time.Millisecond<<(try-1))
}

// holds reports whether kind/name, found taken by a retried Put, holds the
// bytes of u.
func (s *Store) holds(ctx context.Context, kind store.Kind, name string, u *upload.Upload) bool {
	return u.Matches(func() (io.ReadCloser, error) { return s.Get(ctx, kind, name, 0, -1) })
}

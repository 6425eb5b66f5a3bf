package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffer-backup/coffer/internal/store"
)

// ErrNoExclusiveCreate means a service stored an object over an existing
// one although the PUT carried If-None-Match: *. Such a service cannot keep
// a store's write-once rule, which device-chain appends and prune rely on.
var ErrNoExclusiveCreate = errors.New("the S3 service does not honour If-None-Match: * (it replaced an existing object), so it cannot create objects exclusively; use a service that supports conditional writes")

// Create makes a new store at loc on the service at endpoint ("" for AWS).
// The bucket must exist and hold no key under the prefix (but for leftovers
// of Create itself in its tmp/). Before anything else, Create writes a
// probe object under tmp/ twice and removes it, and fails with
// ErrNoExclusiveCreate if the second write succeeded.
func Create(ctx context.Context, loc Location, endpoint string) (*Store, error) {
	s, err := Open(ctx, loc, endpoint)
	if err != nil {
		return nil, err
	}
	if err := s.create(ctx); err != nil {
		return nil, fmt.Errorf("creating store %s: %w", loc, err)
	}
	return s, nil
}

// create checks the bucket, that the prefix is empty and that the service
// honours If-None-Match.
func (s *Store) create(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return err
	}
	if err := s.CheckEmpty(ctx); err != nil {
		return err
	}
	return s.ProbeExclusive(ctx)
}

// Ping checks that the bucket exists and the credentials may list the
// prefix. It lists rather than sends HEAD to the bucket, which needs
// s3:ListBucket without a prefix condition, so that credentials limited to
// the prefix pass.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{
		Bucket: &s.loc.Bucket, Prefix: aws.String(s.loc.keyPrefix()), MaxKeys: aws.Int32(1),
	})
	switch {
	case code(err) == "NoSuchBucket":
		return fmt.Errorf("bucket %s does not exist: create it first", s.loc.Bucket)
	case status(err) == 403:
		return fmt.Errorf("bucket %s: access denied; check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket's policy: %w", s.loc.Bucket, short(err))
	case err != nil:
		return fmt.Errorf("bucket %s: %w", s.loc.Bucket, short(err))
	}
	return nil
}

// ErrNotEmpty means a new store's prefix holds keys already.
var ErrNotEmpty = errors.New("the prefix is not empty")

// CheckEmpty fails, wrapping ErrNotEmpty, if any key but a probe's lies
// under the prefix.
func (s *Store) CheckEmpty(ctx context.Context) error {
	out, err := s.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{
		Bucket: &s.loc.Bucket, Prefix: aws.String(s.loc.keyPrefix()), MaxKeys: aws.Int32(100),
	})
	if err != nil {
		return fmt.Errorf("listing the prefix: %w", short(err))
	}
	for _, o := range out.Contents {
		if !strings.HasPrefix(aws.ToString(o.Key), s.probePrefix()) {
			return fmt.Errorf("%w (it holds %s)", ErrNotEmpty, aws.ToString(o.Key))
		}
	}
	return nil
}

// probePrefix is where probe objects are written: under the layout's tmp/,
// which no kind lists.
func (s *Store) probePrefix() string { return s.loc.keyPrefix() + store.TempDir + "/probe-" }

// ProbeExclusive writes a new probe object twice with If-None-Match: * and
// removes it. It returns nil if the second write was refused as a taken
// name, ErrNoExclusiveCreate if it succeeded, and any other failure as it
// is.
func (s *Store) ProbeExclusive(ctx context.Context) error {
	var id [16]byte
	_, _ = rand.Read(id[:]) // never fails
	key := s.probePrefix() + hex.EncodeToString(id[:])
	first := s.putProbe(ctx, key, "first")
	if first != nil {
		return fmt.Errorf("writing a probe object: %w", first)
	}
	defer s.removeProbe(context.WithoutCancel(ctx), key)
	second := s.putProbe(ctx, key, "second")
	switch {
	case second == nil:
		return ErrNoExclusiveCreate
	case errors.Is(second, store.ErrExists):
		return nil
	}
	return fmt.Errorf("writing a probe object again: %w", second)
}

// putProbe writes data under key with If-None-Match: *. It tries again
// after a 409 Conflict, which a service keeping keys as files answers
// while another process removes its own probe's directory (versitygw's
// posix backend, when instances sharing a prefix start together).
func (s *Store) putProbe(ctx context.Context, key, data string) error {
	var err error
	for try := 1; try <= putTries; try++ {
		_, err = s.client.PutObject(ctx, &awss3.PutObjectInput{
			Bucket: &s.loc.Bucket, Key: &key, Body: strings.NewReader(data),
			ContentLength: aws.Int64(int64(len(data))), IfNoneMatch: aws.String("*"),
		})
		if status(err) != http.StatusConflict || pause(ctx, try) != nil {
			break
		}
	}
	return putError(err)
}

// removeProbe deletes a probe object, best effort: a leftover is harmless
// (nothing lists tmp/) and Create ignores it.
func (s *Store) removeProbe(ctx context.Context, key string) {
	_, _ = s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &s.loc.Bucket, Key: &key})
}

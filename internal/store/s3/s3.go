// Package s3 implements store.Store on Amazon S3 and S3-compatible object
// storage (docs/format.md §4.4): every object is the key PREFIX/ followed by
// its path in the local store's layout, so a store copied between a
// directory and a bucket needs no conversion.
//
// Puts are exclusive (If-None-Match: *): a store is created only on a
// service shown to honour that condition, because exclusive creation is
// what makes device-chain appends and prune safe with several writers.
// Nothing is cached between calls, so any number of processes may share a
// store. Credentials come from the AWS environment and never appear in an
// error.
package s3

import (
	"context"
	"errors"
	"fmt"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/coffer-backup/coffer/internal/store"
)

// Store is a store.Store kept under a prefix of an S3 bucket. It is safe
// for concurrent use by goroutines and processes.
type Store struct {
	client *awss3.Client
	loc    Location
}

var _ store.Store = (*Store)(nil)

// New returns the store at loc reached through client, without any
// request: the caller knows it exists (a server's account) or accepts that
// the first operation finds out.
func New(client *awss3.Client, loc Location) *Store {
	return &Store{client: client, loc: loc}
}

// Open returns the store at loc on the service at endpoint ("" for AWS),
// with credentials from the environment (NewClient). It sends no request:
// a missing bucket or store shows in the first operation (a missing config
// object, for a repository).
func Open(ctx context.Context, loc Location, endpoint string) (*Store, error) {
	client, err := NewClient(ctx, endpoint)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", loc, err)
	}
	return New(client, loc), nil
}

// Location returns where the store is.
func (s *Store) Location() Location { return s.loc }

// Close releases nothing: the Store holds no resources between calls.
func (s *Store) Close() error { return nil }

// status returns the HTTP status of a failed request, or 0 if none came.
func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// code returns the S3 error code of a failed request, or "".
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isNotFound reports whether err says the key is missing (and not the
// bucket: a missing bucket is an error of its own).
func isNotFound(err error) bool {
	return status(err) == 404 && code(err) != "NoSuchBucket"
}

// opError names the object an operation failed on, mapping a missing key
// to store.ErrNotFound.
func opError(op string, kind store.Kind, name string, err error) error {
	if isNotFound(err) {
		err = store.ErrNotFound
	}
	return fmt.Errorf("%s %s/%s: %w", op, kind, name, short(err))
}

// sdkError is an SDK error told in one short line; it unwraps to the
// original.
type sdkError struct {
	msg string
	err error
}

func (e *sdkError) Error() string { return e.msg }
func (e *sdkError) Unwrap() error { return e.err }

// short tells an SDK error as the operation and either the service's
// status, code and message, or why the request could not be sent, leaving
// out request IDs and the SDK's framing. Other errors are returned as they
// are.
func short(err error) error {
	var oe *smithy.OperationError
	if !errors.As(err, &oe) {
		return err
	}
	var ae smithy.APIError
	var se *smithyhttp.RequestSendError
	switch {
	case errors.As(err, &ae):
		return &sdkError{fmt.Sprintf("S3 %s: HTTP %d %s: %s", oe.Operation(), status(err), ae.ErrorCode(), ae.ErrorMessage()), err}
	case errors.As(err, &se):
		return &sdkError{fmt.Sprintf("S3 %s: %v", oe.Operation(), se.Err), err}
	}
	return err
}

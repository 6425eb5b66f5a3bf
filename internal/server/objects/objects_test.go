package objects_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/coffer-backup/coffer/internal/server/objects"
	"github.com/coffer-backup/coffer/internal/server/objects/objectstest"
	"github.com/coffer-backup/coffer/internal/store/s3"
	"github.com/coffer-backup/coffer/internal/store/s3/s3test"
)

// TestLocal runs the suite on directories, two backends sharing one.
func TestLocal(t *testing.T) {
	objectstest.Run(t, func(t *testing.T) (objects.Backend, objects.Backend) {
		dir := filepath.Join(t.TempDir(), "accounts")
		return newLocal(t, dir), newLocal(t, dir)
	})
}

func newLocal(t *testing.T, dir string) objects.Backend {
	b, err := objects.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestS3 runs the suite on versitygw, two backends sharing a prefix of a
// new bucket.
func TestS3(t *testing.T) {
	srv := s3test.Start(t)
	objectstest.Run(t, func(t *testing.T) (objects.Backend, objects.Backend) {
		loc := srv.Location(t, "coffer/server")
		return newS3(t, loc, srv.Endpoint), newS3(t, loc, srv.Endpoint)
	})
}

func newS3(t *testing.T, loc s3.Location, endpoint string) objects.Backend {
	b, err := objects.NewS3(context.Background(), loc, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestS3RefusesIgnoredIfNoneMatch checks that a server does not start on
// a service that ignores If-None-Match, nor on a missing bucket.
func TestS3RefusesIgnoredIfNoneMatch(t *testing.T) {
	srv := s3test.Start(t)
	loc := srv.Location(t, "")
	if _, err := objects.NewS3(context.Background(), loc, srv.IgnoringIfNoneMatch(t)); !errors.Is(err, s3.ErrNoExclusiveCreate) {
		t.Errorf("NewS3 through a proxy dropping If-None-Match: %v", err)
	}
	if _, err := objects.NewS3(context.Background(), s3.Location{Bucket: "no-such-bucket"}, srv.Endpoint); err == nil {
		t.Error("NewS3 on a missing bucket succeeded")
	}
}

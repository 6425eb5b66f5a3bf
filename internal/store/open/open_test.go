package open

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
	"github.com/coffer-backup/coffer/internal/store/remote"
	"github.com/coffer-backup/coffer/internal/store/s3"
	"github.com/coffer-backup/coffer/internal/store/s3/s3test"
)

func TestCanonical(t *testing.T) {
	dir := t.TempDir()
	pin := strings.Repeat("0f", 32)
	tests := []struct {
		loc, want string
		remote    bool
	}{
		{dir, dir, false},
		{"file://" + dir, dir, false},
		{dir + "/sub/..", dir, false},
		{"https://Backup.Example:8443/#sha256=" + strings.ToUpper(pin), "https://backup.example:8443#sha256=" + pin, true},
		{"HTTP://127.0.0.1:9", "http://127.0.0.1:9", true},
		{"http://example.com", "", true}, // not loopback
		{"s3://bucket", "s3://bucket", false},
		{"S3://my-bucket/a/b/", "s3://my-bucket/a/b", false},
		{"s3://Bucket", "", false},
		{"s3://bucket/a//b", "", false},
		{"s3://bucket/../b", "", false},
		{"sftp:host:/srv", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, err := Canonical(tc.loc)
		if (tc.want == "") != (err != nil) || got != tc.want || IsRemote(tc.loc) != tc.remote {
			t.Errorf("%q: got %q, %v, remote %v", tc.loc, got, err, IsRemote(tc.loc))
		}
	}
}

// TestOpen checks that a path opens a local store, a URL a remote one, and
// that a server store needs an account.
func TestOpen(t *testing.T) {
	dev, err := keys.NewDevice("open test")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "store")
	st, err := Create(context.Background(), "file://"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, loc := range []string{dir, "file://" + dir} {
		st, err := Open(loc, Options{})
		if _, ok := st.(*local.Store); err != nil || !ok {
			t.Errorf("%s: got %T, %v", loc, st, err)
		}
	}
	const url = "http://127.0.0.1:1"
	if _, err := Open(url, Options{Device: dev}); !errors.Is(err, ErrNoAccount) {
		t.Errorf("a server store without an account: %v", err)
	}
	st, err = Open(url, Options{Account: strings.Repeat("ab", 16), Device: dev})
	if _, ok := st.(*remote.Store); err != nil || !ok {
		t.Errorf("%s: got %T, %v", url, st, err)
	}
}

// TestUnsupportedSchemes checks that a location with a scheme Coffer does
// not support is refused, by Create before it makes anything, with one
// line naming the supported kinds and not repeating what follows the
// scheme, while Windows drives and paths with colons stay paths.
func TestUnsupportedSchemes(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, loc := range []string{"sftp:user@host:/srv/coffer", "b2:bucket:path", "rclone:remote:path", "s3:s3.amazonaws.com/bucket",
		"sftp://user:secret@host/x", "x://y", "gs://bucket", "azure:container:/", "ftp:x", "rest:http://host/", "file:x"} {
		_, err := Create(context.Background(), loc, Options{})
		msg := fmt.Sprint(err)
		if err == nil || strings.Contains(msg, "\n") || !strings.Contains(msg, "s3://BUCKET/PREFIX") || strings.Contains(msg, "secret") || strings.Contains(msg, "host") {
			t.Errorf("%q: %v", loc, err)
		}
		if _, err := Open(loc, Options{}); err == nil {
			t.Errorf("Open %q: accepted", loc)
		}
		if entries, _ := os.ReadDir("."); len(entries) != 0 {
			t.Fatalf("%q: left %d entries in the working directory", loc, len(entries))
		}
	}
	for _, loc := range []string{"C:", "c:\\backups", "D:/backups", "./sftp:host", "/tmp/b2:bucket", "a b:c"} {
		if _, err := localPath(loc); err != nil {
			t.Errorf("%q: %v", loc, err)
		}
	}
}

// TestS3 checks that an s3:// location creates and opens an S3 store on
// the endpoint given, which a later Open needs again.
func TestS3(t *testing.T) {
	srv := s3test.Start(t)
	loc := "s3://" + srv.Bucket(t) + "/laptop"
	st, err := Create(context.Background(), loc, Options{S3Endpoint: srv.Endpoint})
	if _, ok := st.(*s3.Store); err != nil || !ok {
		t.Fatalf("Create %s: %T, %v", loc, st, err)
	}
	if err := store.PutBytes(context.Background(), st, store.Config, "config", []byte("c")); err != nil {
		t.Fatal(err)
	}
	st, err = Open(loc, Options{S3Endpoint: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := store.ReadAll(context.Background(), st, store.Config, "config", 10); err != nil || string(b) != "c" {
		t.Errorf("reading back: %q, %v", b, err)
	}
	if _, err := Create(context.Background(), loc, Options{S3Endpoint: srv.Endpoint}); err == nil {
		t.Error("a second Create of the same location succeeded")
	}
	if _, err := Open(loc, Options{S3Endpoint: "http://user:pw@127.0.0.1:1"}); err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("an endpoint with a password: %v", err)
	}
}

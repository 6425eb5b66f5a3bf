package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffer-backup/coffer/internal/store/s3"
	"github.com/coffer-backup/coffer/internal/store/s3/s3test"
)

// s3Objects returns a Config change that keeps objects under coffer/ in a
// new bucket of srv.
func s3Objects(t *testing.T, srv *s3test.Server) (func(*Config), s3.Location) {
	loc := srv.Location(t, "coffer")
	return func(c *Config) { c.Objects, c.S3Endpoint = loc.String(), srv.Endpoint }, loc
}

// bucketKeys lists every key of a bucket, sorted.
func bucketKeys(t *testing.T, srv *s3test.Server, bucket string) []string {
	t.Helper()
	out, err := srv.Client().ListObjectsV2(context.Background(), &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	slices.Sort(keys)
	return keys
}

// TestObjectsS3 walks the life of objects on a server keeping them in S3,
// and checks that exactly the objects it accepted are in the bucket, each
// at PREFIX/accounts/<account>/ and its path in the local layout. Its data
// directory does not exist beforehand: the server makes it, although no
// object goes there.
func TestObjectsS3(t *testing.T) {
	srv := s3test.Start(t)
	mod, loc := s3Objects(t, srv)
	data := filepath.Join(t.TempDir(), "new", "data")
	e := newEnv(t, mod, func(c *Config) { c.Data = data })
	a := e.newAccount(1)
	walkObjects(t, e, a)
	_, pack := content(1, 100_000)
	_, empty := content(0, 0)
	base := "coffer/accounts/" + a.id + "/"
	want := []string{base + "config/config", base + "keys/device-abc", base + "packs/" + pack[:2] + "/" + pack, base + "snapshots/" + empty}
	if got := bucketKeys(t, srv, loc.Bucket); !slices.Equal(got, want) {
		t.Errorf("keys in the bucket:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	e.do(req{method: "GET", path: "/healthz"}).want(t, "healthz", 200, "")
	if err := os.Rename(filepath.Join(srv.Dir, loc.Bucket), filepath.Join(srv.Dir, "moved")); err != nil {
		t.Fatal(err)
	}
	e.do(req{method: "GET", path: "/healthz"}).want(t, "healthz without the bucket", 503, "unavailable")
}

// TestCutShortS3 checks that uploads whose client goes away midway leave
// nothing in the bucket: neither a pack, streamed to S3 as it arrives, nor
// a keys object, which is read whole before it is sent.
func TestCutShortS3(t *testing.T) {
	srv := s3test.Start(t)
	mod, loc := s3Objects(t, srv)
	e := newEnv(t, mod)
	a := e.newAccount(1)
	data, name := content(1, 4<<20)
	for _, path := range []string{"/v1/objects/packs/" + name, "/v1/objects/keys/device-cut"} {
		sendHalf(t, e, a.token, path, data)
	}
	time.Sleep(500 * time.Millisecond) // a service may publish what it got after the connection closed
	if got := bucketKeys(t, srv, loc.Bucket); len(got) != 0 {
		t.Errorf("keys after cut-short uploads: %v", got)
	}
	e.put(a.token, "packs", data, name, 201)
}

// sendHalf sends a PUT of data with its full length and half its bytes,
// waits until the server has read them, and closes the connection.
func sendHalf(t *testing.T, e *env, token, path string, data []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := fmt.Sprintf("PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", path, token, len(data))
	if _, err := conn.Write(append([]byte(head), data[:len(data)/2]...)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
}

// TestTwoInstancesS3 runs two servers on one database and one bucket: each
// serves, at once, the objects the other stored and deleted, since neither
// keeps anything in memory the other needs.
func TestTwoInstancesS3(t *testing.T) {
	srv := s3test.Start(t)
	mod, _ := s3Objects(t, srv)
	data := t.TempDir()
	shared := func(c *Config) { mod(c); c.Data = data }
	one, two := newEnv(t, shared), newEnv(t, shared)
	a := one.newAccount(1)
	body, name := content(3, 50_000)
	one.put(a.token, "packs", body, name, 201)
	two.do(req{method: "GET", path: "/v1/objects/packs/" + name, token: a.token}).want(t, "get from two", 200, "")
	two.put(a.token, "packs", body, name, 409)
	two.do(req{method: "DELETE", path: "/v1/objects/packs/" + name, token: a.token}).want(t, "delete on two", 204, "")
	one.do(req{method: "HEAD", path: "/v1/objects/packs/" + name, token: a.token}).want(t, "head on one", 404, "")
	b := two.newAccount(2)
	one.put(b.token, "packs", body, name, 201)
}

// TestRefusesIgnoredIfNoneMatchS3 checks that a server does not start with
// its objects on a service that does not honour If-None-Match.
func TestRefusesIgnoredIfNoneMatchS3(t *testing.T) {
	srv := s3test.Start(t)
	loc := srv.Location(t, "coffer")
	_, err := New(Config{Data: t.TempDir(), InsecureHTTP: true, Log: &syncBuffer{}, Objects: loc.String(), S3Endpoint: srv.IgnoringIfNoneMatch(t)})
	if !errors.Is(err, s3.ErrNoExclusiveCreate) {
		t.Errorf("New on a service ignoring If-None-Match: %v", err)
	}
	_, err = New(Config{Data: t.TempDir(), InsecureHTTP: true, Log: &syncBuffer{}, S3Endpoint: srv.Endpoint})
	if err == nil {
		t.Error("New with an S3 endpoint and no S3 objects succeeded")
	}
}

// TestTwoInstancesCatalog runs two servers with the object catalog on one
// PostgreSQL database and one bucket: each serves what the other stored
// and deleted, the bucket's keys are the catalog's unique keys, and a
// server without PostgreSQL refuses the catalog.
func TestTwoInstancesCatalog(t *testing.T) {
	srv := s3test.Start(t)
	mod, loc := s3Objects(t, srv)
	pg := pgConfig(t)
	shared := func(c *Config) {
		mod(c)
		// No data directory: instances behind a load balancer keep nothing.
		c.Data, c.DB, c.LogKeyFile, c.ObjectCatalog = "", pg.DB, pg.LogKeyFile, true
	}
	one, two := newEnv(t, shared), newEnv(t, shared)
	a := one.newAccount(1)
	body, name := content(3, 50_000)
	one.put(a.token, "packs", body, name, 201)
	two.do(req{method: "GET", path: "/v1/objects/packs/" + name, token: a.token}).want(t, "get from two", 200, "")
	two.put(a.token, "packs", body, name, 409)
	var packs []string
	for _, k := range bucketKeys(t, srv, loc.Bucket) {
		if strings.Contains(k, "/packs/") {
			packs = append(packs, k)
		}
	}
	if len(packs) != 1 || !strings.Contains(packs[0], "/"+name+".") {
		t.Errorf("pack keys %v, want one unique key of %s", packs, name)
	}
	two.do(req{method: "DELETE", path: "/v1/objects/packs/" + name, token: a.token}).want(t, "delete on two", 204, "")
	one.do(req{method: "HEAD", path: "/v1/objects/packs/" + name, token: a.token}).want(t, "head on one", 404, "")
	one.put(a.token, "packs", body, name, 201)

	alone := Config{Data: t.TempDir(), InsecureHTTP: true, Log: &syncBuffer{}, ObjectCatalog: true}
	mod(&alone)
	if s, err := New(alone); err == nil {
		s.Close()
		t.Error("a server on SQLite started with the object catalog")
	}
}

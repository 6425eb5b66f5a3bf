package s3_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffer-backup/coffer/internal/store"
	s3 "github.com/coffer-backup/coffer/internal/store/s3"
	"github.com/coffer-backup/coffer/internal/store/s3/s3test"
	"github.com/coffer-backup/coffer/internal/store/storetest"
)

// create makes a store at loc on the service at endpoint and closes it at
// the end of the test.
func create(t *testing.T, loc s3.Location, endpoint string) *s3.Store {
	t.Helper()
	st, err := s3.Create(context.Background(), loc, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestConformance runs the store conformance suite against versitygw, each
// store under a prefix of a new bucket.
func TestConformance(t *testing.T) { conformance(t, "backups/laptop") }

// TestConformanceBucketRoot runs the suite on stores that are a whole
// bucket (no prefix).
func TestConformanceBucketRoot(t *testing.T) { conformance(t, "") }

// conformance runs the suite on stores under prefix of new buckets.
func conformance(t *testing.T, prefix string) {
	srv := s3test.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		st, err := s3.Create(context.Background(), srv.Location(t, prefix), srv.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

// TestChain runs the device-chain suite on an S3 store, whose chain is
// kept as objects created exclusively (store.ChainOf).
func TestChain(t *testing.T) {
	srv := s3test.Start(t)
	storetest.RunChain(t, func(t *testing.T, _ storetest.ChainAccount) store.Chain {
		return store.ChainOf(create(t, srv.Location(t, "chain"), srv.Endpoint))
	})
}

// TestLayoutVectors checks that every object of the local store's path
// vectors is the key PREFIX/path, and every invalid one is refused. A
// vector named by a SHA-256 is only mapped, since the service refuses
// bytes that do not hash to such a name.
func TestLayoutVectors(t *testing.T) {
	srv := s3test.Start(t)
	loc := srv.Location(t, "p/q")
	st := create(t, loc, srv.Endpoint)
	ctx := context.Background()
	for _, v := range storetest.ReadVectors(t, "../local/testdata/paths.txt") {
		if v.Path == "invalid" {
			if err := st.Put(ctx, v.Kind, v.Name, strings.NewReader("v"), 1); err == nil {
				t.Errorf("%s/%s: accepted", v.Kind, v.Name)
			}
			continue
		}
		key := "p/q/" + v.Path
		if got := s3.Key(loc, v.Kind, v.Name); got != key {
			t.Errorf("%s/%s: key %s, want %s", v.Kind, v.Name, got, key)
		}
		if len(v.Name) == 64 {
			continue
		}
		if err := st.Put(ctx, v.Kind, v.Name, strings.NewReader("v"), 1); err != nil {
			t.Errorf("%s/%s: %v", v.Kind, v.Name, err)
		} else if _, err := srv.Client().HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &loc.Bucket, Key: &key}); err != nil {
			t.Errorf("%s/%s: no key %s: %v", v.Kind, v.Name, key, err)
		}
	}
}

// TestListSkipsStrays checks that keys which are no object's path are not
// listed: wrong shard, invalid names, deeper keys, the tmp/ directory and
// keys beside the prefix.
func TestListSkipsStrays(t *testing.T) {
	srv := s3test.Start(t)
	loc := srv.Location(t, "p")
	st := create(t, loc, srv.Endpoint)
	for _, key := range []string{"p/packs/ab/cd", "p/packs/abc", "p/packs/ab/ab/ab", "p/packs/ab/ABC", "p/index/x/y",
		"p/tmp/x", "p/index.x", "pindex/x", "index/x", "p/index/.hidden"} {
		putRaw(t, srv, loc.Bucket, key)
	}
	ctx := context.Background()
	if err := st.Put(ctx, store.Packs, "abc", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []store.Kind{store.Packs, store.Index} {
		var got []string
		err := st.List(ctx, kind, func(o store.ObjectInfo) error { got = append(got, o.Name); return nil })
		want := map[store.Kind]string{store.Packs: "abc", store.Index: ""}[kind]
		if err != nil || strings.Join(got, ",") != want {
			t.Errorf("List %s: %v, %v; want %q", kind, got, err, want)
		}
	}
}

// putRaw stores a one-byte object under key, bypassing the store.
func putRaw(t *testing.T, srv *s3test.Server, bucket, key string) {
	t.Helper()
	_, err := srv.Client().PutObject(context.Background(), &awss3.PutObjectInput{Bucket: &bucket, Key: &key, Body: strings.NewReader("x")})
	if err != nil {
		t.Fatalf("putting %s: %v", key, err)
	}
}

// TestRefusesIgnoredIfNoneMatch checks that a service which ignores
// If-None-Match (a proxy that drops it) is refused when the store is
// created, and that the refusal leaves nothing in the bucket.
func TestRefusesIgnoredIfNoneMatch(t *testing.T) {
	srv := s3test.Start(t)
	loc := srv.Location(t, "p")
	_, err := s3.Create(context.Background(), loc, srv.IgnoringIfNoneMatch(t))
	if !errors.Is(err, s3.ErrNoExclusiveCreate) {
		t.Fatalf("Create through a proxy dropping If-None-Match: %v", err)
	}
	out, err := srv.Client().ListObjectsV2(context.Background(), &awss3.ListObjectsV2Input{Bucket: &loc.Bucket})
	if err != nil || len(out.Contents) != 0 {
		t.Errorf("the bucket holds %d keys after the refusal (%v)", len(out.Contents), err)
	}
	if _, err := s3.Create(context.Background(), loc, srv.Endpoint); err != nil {
		t.Errorf("Create on the service itself after the refusal: %v", err)
	}
}

// TestMissingBucket checks that a missing bucket is not taken for a missing
// object, and that the error is one short line: operation, status, code
// and message, without the SDK's request IDs.
func TestMissingBucket(t *testing.T) {
	srv := s3test.Start(t)
	st, err := s3.Open(context.Background(), s3.Location{Bucket: "no-such-bucket"}, srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Get(context.Background(), store.Config, "config", 0, -1)
	const want = "get config/config: S3 GetObject: HTTP 404 NoSuchBucket: "
	if errors.Is(err, store.ErrNotFound) || err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "RequestID") {
		t.Errorf("Get in a missing bucket: %v", err)
	}
}

// TestCreateRefuses checks that Create refuses a missing bucket and a
// prefix that holds keys, but accepts one holding only a probe leftover.
func TestCreateRefuses(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	if _, err := s3.Create(ctx, s3.Location{Bucket: "no-such-bucket"}, srv.Endpoint); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("a missing bucket: %v", err)
	}
	loc := srv.Location(t, "p")
	putRaw(t, srv, loc.Bucket, "p/tmp/probe-0123")
	create(t, loc, srv.Endpoint)
	if _, err := s3.Create(ctx, s3.Location{Bucket: loc.Bucket}, srv.Endpoint); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a bucket holding a store: %v", err)
	}
	putRaw(t, srv, loc.Bucket, "q/index/x")
	if _, err := s3.Create(ctx, s3.Location{Bucket: loc.Bucket, Prefix: "q"}, srv.Endpoint); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a prefix holding a key: %v", err)
	}
}

// TestRequestShape checks what the store sends: unsigned payloads with
// their length, If-None-Match on every PUT, no aws-chunked encoding or
// checksum trailer, and the bytes' SHA-256, whether the name is one or not.
func TestRequestShape(t *testing.T) {
	srv := s3test.Start(t)
	var mu sync.Mutex
	var puts []http.Header
	endpoint := srv.Proxy(t, func(_ http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/index/") {
			h := r.Header.Clone()
			h.Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
			puts = append(puts, h)
		}
		return true
	})
	st := create(t, srv.Location(t, "p"), endpoint)
	data := []byte("0123456789")
	sum := "84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882"
	for _, name := range []string{sum, "not-a-hash"} {
		if err := store.PutBytes(context.Background(), st, store.Index, name, data); err != nil {
			t.Fatal(err)
		}
	}
	if len(puts) != 2 {
		t.Fatalf("saw %d PUTs", len(puts))
	}
	for i, h := range puts {
		if h.Get("X-Amz-Content-Sha256") != "UNSIGNED-PAYLOAD" || h.Get("If-None-Match") != "*" ||
			h.Get("Content-Encoding") != "" || h.Get("X-Amz-Trailer") != "" || h.Get("X-Amz-Checksum-Crc32") != "" ||
			h.Get("Content-Length") != "10" {
			t.Errorf("PUT %d: headers %v", i, h)
		}
		if got := h.Get("X-Amz-Checksum-Sha256"); got != "hNiYd/DUBB77a/kaFvAkjy/Vc+avBcGflr7bn4gveII=" {
			t.Errorf("PUT %d: SHA-256 checksum %q", i, got)
		}
	}
}

// TestChecksumRefused checks that a content-named object whose bytes do
// not hash to its name is refused by the service and not stored.
func TestChecksumRefused(t *testing.T) {
	srv := s3test.Start(t)
	st := create(t, srv.Location(t, "p"), srv.Endpoint)
	name := strings.Repeat("ab", 32)
	err := store.PutBytes(context.Background(), st, store.Snapshots, name, []byte("not its hash"))
	if err == nil || !strings.Contains(err.Error(), "do not have the SHA-256") {
		t.Errorf("Put of bytes that do not hash to the name: %v", err)
	}
	if _, err := st.Stat(context.Background(), store.Snapshots, name); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stat after the refusal: %v", err)
	}
}

// TestPutRetries checks that a PUT failing with a 503 is retried, and that
// a retried PUT whose first try was stored although its answer was lost
// succeeds rather than reporting the name taken.
func TestPutRetries(t *testing.T) {
	srv := s3test.Start(t)
	var fails atomic.Int32
	endpoint := srv.Proxy(t, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/packs/") || fails.Add(1) > 2 {
			return true
		}
		if strings.Contains(r.URL.Path, "lost") { // store it, then lose the answer
			srv.Forward(httptest.NewRecorder(), r)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return false
	})
	st := create(t, srv.Location(t, "p"), endpoint)
	ctx := context.Background()
	for _, name := range []string{"refused", "lost"} {
		fails.Store(0)
		if err := store.PutBytes(ctx, st, store.Packs, name, []byte(name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if b, err := store.ReadAll(ctx, st, store.Packs, name, 100); err != nil || string(b) != name {
			t.Errorf("%s: read %q, %v", name, b, err)
		}
	}
	err := store.PutBytes(ctx, st, store.Packs, "lost", []byte("other"))
	if !errors.Is(err, store.ErrExists) {
		t.Errorf("a PUT of other bytes over a stored object: %v", err)
	}
}

// TestPutUnseekable checks that the bytes of an unseekable reader of at
// most 32 MiB are read into memory, so that a failed try can be repeated,
// and that a larger one is tried once.
func TestPutUnseekable(t *testing.T) {
	srv := s3test.Start(t)
	var tries atomic.Int32
	endpoint := srv.Proxy(t, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/packs/") && tries.Add(1) == 1 || strings.Contains(r.URL.Path, "large") {
			w.WriteHeader(http.StatusServiceUnavailable)
			return false
		}
		return true
	})
	st := create(t, srv.Location(t, "p"), endpoint)
	ctx := context.Background()
	if err := st.Put(ctx, store.Packs, "small", struct{ io.Reader }{strings.NewReader("x")}, 1); err != nil || tries.Load() != 2 {
		t.Errorf("Put of a small unseekable reader: %v after %d tries", err, tries.Load())
	}
	tries.Store(0)
	const size = 32<<20 + 1
	r := io.LimitReader(zeros{}, size)
	if err := st.Put(ctx, store.Packs, "large", r, size); err == nil || tries.Load() != 1 {
		t.Errorf("Put of a large unseekable reader: %v after %d tries", err, tries.Load())
	}
}

// zeros reads as endless zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

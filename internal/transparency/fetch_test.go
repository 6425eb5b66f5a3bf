package transparency

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coffer-backup/coffer/internal/tlog"
)

func TestNewFetcher(t *testing.T) {
	tests := []struct{ url, base string }{
		{"https://log.example", "https://log.example/log/"},
		{"https://log.example:8443/", "https://log.example:8443/log/"},
		{"http://127.0.0.1:1/coffer#sha256=abcd", "http://127.0.0.1:1/coffer/log/"},
		{"ftp://log.example", ""},
		{"https://", ""},
		{"https://user:pass@log.example", ""},
		{"https://log.example/?x=1", ""},
		{"log.example", ""},
		{"https://log.example/%zz", ""},
	}
	for _, tc := range tests {
		f, err := NewFetcher(http.DefaultClient, tc.url)
		switch {
		case tc.base == "" && err == nil:
			t.Errorf("%s: accepted as %s", tc.url, f)
		case tc.base != "" && (err != nil || f.String() != tc.base):
			t.Errorf("%s: got %v, %v; want %s", tc.url, f, err, tc.base)
		}
	}
	if _, err := NewFetcher(nil, "https://log.example"); err == nil {
		t.Error("accepted a nil client")
	}
}

// TestFetcherLimits: each response may be as large as the largest valid
// one and no larger; other statuses and non-canonical paths fail, the
// latter without a request.
func TestFetcherLimits(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		n, err := strconv.Atoi(r.Header.Get("X-Size"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(make([]byte, n))
	}))
	defer srv.Close()
	ctx := context.Background()
	get := func(size int, fetch func(*Fetcher) ([]byte, error)) error {
		client := &http.Client{Transport: sizeHeader{size}}
		f, err := NewFetcher(client, srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		_, err = fetch(f)
		return err
	}
	checkpoint := func(f *Fetcher) ([]byte, error) { return f.Checkpoint(ctx) }
	tile := func(path string) func(*Fetcher) ([]byte, error) {
		return func(f *Fetcher) ([]byte, error) { return f.Tile(ctx, path) }
	}
	tests := []struct {
		name  string
		size  int
		fetch func(*Fetcher) ([]byte, error)
		ok    bool
	}{
		{"checkpoint at the limit", tlog.MaxNoteSize, checkpoint, true},
		{"checkpoint over", tlog.MaxNoteSize + 1, checkpoint, false},
		{"tile at the limit", tlog.MaxTileSize, tile("tile/0/x001/234"), true},
		{"tile over", tlog.MaxTileSize + 1, tile("tile/0/x001/234"), false},
		{"bundle at the limit", tlog.MaxBundleSize, tile("tile/entries/000"), true},
		{"bundle over", tlog.MaxBundleSize + 1, tile("tile/entries/000.p/7"), false},
		{"not found", -1, tile("tile/1/000"), false},
	}
	for _, tc := range tests {
		if err := get(tc.size, tc.fetch); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	before := requests.Load()
	for _, path := range []string{"tile/0/0", "tile/0/x000/005", "checkpoint", "../vkey", "tile/0/000.p/256"} {
		if err := get(1, tile(path)); !errors.Is(err, tlog.ErrMalformed) {
			t.Errorf("%s: %v", path, err)
		}
	}
	if requests.Load() != before {
		t.Error("a non-canonical path was requested")
	}
}

// sizeHeader is a transport that asks the test server for a response size.
type sizeHeader struct{ size int }

func (s sizeHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if s.size >= 0 {
		r.Header.Set("X-Size", strconv.Itoa(s.size))
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestVerifierKey: the key the server states is parsed, and must be a log key.
func TestVerifierKey(t *testing.T) {
	fx := newFixture(t)
	vkey, err := fx.fetcher.VerifierKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, err := tlog.NewLogVerifier(vkey)
	if err != nil || v.Name() != origin || v.KeyHash() != fx.policy.Log.KeyHash() {
		t.Fatalf("got %q, %v", vkey, err)
	}
	fx.server.mu.Lock()
	fx.server.vkey = strings.Replace(fx.server.vkey, "+A", "+B", 1)
	fx.server.mu.Unlock()
	if _, err := fx.fetcher.VerifierKey(context.Background()); !errors.Is(err, tlog.ErrMalformed) {
		t.Fatalf("a cosigner-type key: %v", err)
	}
}

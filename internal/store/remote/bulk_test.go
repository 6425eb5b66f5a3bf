package remote

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-backup/coffer/internal/server"
	"github.com/coffer-backup/coffer/internal/store"
)

// TestBulkOverHTTP1 checks which HTTP version carries what over TLS, where
// the server speaks both: a body of bulkBody bytes or more (a pack), and a
// read of a pack to its end or of bulkBody bytes or more, go over
// HTTP/1.1, every other request over HTTP/2; both are pinned, and the pack
// arrives whole.
func TestBulkOverHTTP1(t *testing.T) {
	srv, err := server.New(server.Config{Data: t.TempDir(), InsecureHTTP: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var (
		mu     sync.Mutex
		protos = map[string]int{} // "METHOD kind" -> the HTTP major versions seen, as a bit set
	)
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.SplitN(r.URL.Path, "/", 5) // "", "v1", "objects", "packs", name
		key := r.Method + " " + strings.Join(parts[:min(4, len(parts))], "/")
		mu.Lock()
		protos[key] |= 1 << r.ProtoMajor
		mu.Unlock()
		srv.Handler().ServeHTTP(w, r)
	}))
	hs.EnableHTTP2 = true
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.StartTLS()
	defer hs.Close()
	acct, dev := newAccountID(t), newDevice(t)
	g, _ := genesis(t, acct, dev)
	ctx := context.Background()
	s, err := Create(ctx, hs.URL+"#sha256="+hexSum(hs.Certificate().Raw), Options{Account: acct, Device: dev, Genesis: g})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	big, small := bytes.Repeat([]byte("pack"), bulkBody/4+1024), []byte("index")
	for _, b := range [][]byte{big, small} {
		if err := s.Put(ctx, store.Packs, hexSum(b), bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	}
	rc, err := s.Get(ctx, store.Packs, hexSum(big), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("the pack read back: %d bytes, %v", len(got), err)
	}
	// others checks that what is not a pack went over HTTP/2 only, and clears
	// the record.
	others := func() {
		mu.Lock()
		defer mu.Unlock()
		for k, v := range protos {
			if !strings.HasSuffix(k, " /v1/objects/packs") && v != 1<<2 {
				t.Errorf("%s went over HTTP versions %b, want 2 only", k, v)
			}
		}
		clear(protos)
	}
	mu.Lock()
	puts := protos["PUT /v1/objects/packs"]
	mu.Unlock()
	if puts != 1<<1|1<<2 {
		t.Errorf("pack uploads went over HTTP versions %b, want 1 (the large one) and 2 (the small one)", puts)
	}
	others()
	for _, r := range []struct {
		offset, length int64
		proto          int // the HTTP major version the read must take
	}{
		{4, 8, 2},               // a small range
		{4, -1, 1},              // to the end, from an offset
		{1, bulkBody, 1},        // a large range, at an offset
		{0, bulkBody - 1, 2},    // just under bulkBody
		{bulkBody + 4093, 3, 2}, // the last bytes
	} {
		rc, err := s.Get(ctx, store.Packs, hexSum(big), r.offset, r.length)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		want := big[r.offset:]
		if r.length >= 0 {
			want = want[:r.length]
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("bytes %d+%d of the pack read back: %d bytes, %v", r.offset, r.length, len(got), err)
		}
		mu.Lock()
		v := protos["GET /v1/objects/packs"]
		mu.Unlock()
		if v != 1<<r.proto {
			t.Errorf("bytes %d+%d of a pack went over HTTP versions %b, want %d only", r.offset, r.length, v, r.proto)
		}
		others()
	}
}

package transparency

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/deadline"
)

// TestFetcherHostile: a log server that stalls before answering or after
// one byte, or trickles, fails the read within the client's limits, with
// an error that names the URL read.
func TestFetcherHostile(t *testing.T) {
	limits := deadline.Limits{Idle: 200 * time.Millisecond, Min: 600 * time.Millisecond, Rate: 4096}
	quit := make(chan struct{})
	defer close(quit) // before the servers close, which waits for their handlers
	hold := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-quit:
		}
	}
	tests := []struct {
		name   string
		h      http.HandlerFunc
		want   string
		within time.Duration
	}{
		{"stalled", func(w http.ResponseWriter, r *http.Request) { hold(r) }, "no answer for 200ms", limits.Idle},
		{"one byte then stalled", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.Write([]byte("x"))
			w.(http.Flusher).Flush()
			hold(r)
		}, "no data for 200ms", limits.Idle},
		{"trickled", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10000")
			for range 10000 {
				w.Write([]byte("x"))
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-quit:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}, "too slow", limits.Min},
	}
	client := &http.Client{Transport: &deadline.Transport{Limits: limits}}
	ctx := context.Background()
	for _, tc := range tests {
		srv := httptest.NewServer(tc.h)
		t.Cleanup(srv.Close)
		f, err := NewFetcher(client, srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		for path, fetch := range map[string]func() ([]byte, error){
			"checkpoint": func() ([]byte, error) { return f.Checkpoint(ctx) },
			"tile/0/000": func() ([]byte, error) { return f.Tile(ctx, "tile/0/000") },
		} {
			start := time.Now()
			_, err := fetch()
			var de *deadline.Error
			switch took := time.Since(start); {
			case !errors.As(err, &de) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), srv.URL+"/log/"+path):
				t.Errorf("%s %s: got %v, want a *deadline.Error with %q naming the URL", tc.name, path, err, tc.want)
			case took > tc.within+3*time.Second:
				t.Errorf("%s %s: failed only after %v", tc.name, path, took)
			}
		}
	}
}

// TestFetcherBoundsAnyClient: a client without limits of its own gets
// the default ones.
func TestFetcherBoundsAnyClient(t *testing.T) {
	f, err := NewFetcher(&http.Client{}, "https://log.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.client.Transport.(*deadline.Transport); !ok {
		t.Errorf("the fetcher's transport is a %T", f.client.Transport)
	}
}

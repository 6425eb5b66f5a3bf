package account_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/deadline"
	"github.com/coffer-backup/coffer/internal/pairing"
	"github.com/coffer-backup/coffer/internal/store/remote"
)

// TestJoinHostileServer: a joining device polling a server that stalls
// its mailbox after one byte, or keeps answering 429, fails within its
// timeouts, long before the pairing's deadline, with an error naming the
// server and the slot; one that stalls before answering may hold a poll
// for the poll's wait (here 1 s, as the deadline is 1.5 s away) plus
// Idle; one that answers "empty" at once for ever is polled at most once
// a second until the deadline. The server, over real HTTP, is the
// attacker: it takes the new device's message, then misbehaves.
func TestJoinHostileServer(t *testing.T) {
	timeouts := remote.Timeouts{Limits: deadline.Limits{Idle: 200 * time.Millisecond, Min: 600 * time.Millisecond}, Retry: time.Second}
	quit := make(chan struct{})
	defer close(quit) // before the servers close, which waits for their handlers
	tests := []struct {
		name     string
		poll     http.HandlerFunc
		deadline time.Duration
		want     string
		within   time.Duration
	}{
		{"one byte then stalled", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.Write([]byte("x"))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-quit:
			}
		}, time.Hour, "no data for 200ms", time.Second},
		{"stalled", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-quit:
			}
		}, 1500 * time.Millisecond, "no answer for 1.2s", 1200 * time.Millisecond},
		{"429 with Retry-After: 60 for ever", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "60")
			http.Error(w, `{"error":"slow down","code":"rate_limited"}`, http.StatusTooManyRequests)
		}, time.Hour, "HTTP 429", time.Second},
		{"empty at once for ever", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}, 2 * time.Second, account.ErrPairingTimeout.Error(), 2 * time.Second},
	}
	for _, tc := range tests {
		var polls atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut {
				w.WriteHeader(http.StatusCreated) // the joiner's message, taken
				return
			}
			polls.Add(1)
			tc.poll(w, r)
		}))
		t.Cleanup(srv.Close)
		relay, err := remote.OpenAnonymous(srv.URL, timeouts)
		if err != nil {
			t.Fatal(err)
		}
		code, err := pairing.NewCode(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = account.Join(ctx, relay, code, newDevice(t, "phone"), start.Add(tc.deadline))
		took := time.Since(start)
		relay.Close()
		named := fmt.Sprintf("reading slot %d of pairing %s on %s", pairing.SlotOffer, code.ID(), srv.URL)
		switch {
		case err == nil || !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.want)
		case !errors.Is(err, account.ErrPairingTimeout) && !strings.Contains(err.Error(), named):
			t.Errorf("%s: %q does not name %q", tc.name, err, named)
		case took > tc.within+3*time.Second:
			t.Errorf("%s: failed only after %v", tc.name, took)
		case polls.Load() > int64(took/time.Second)+4:
			t.Errorf("%s: %d polls in %v", tc.name, polls.Load(), took)
		}
	}
}

package witness

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

// TestSubmitHostile: a witness that stalls before answering or after one
// byte fails the submission within the client's bounds (its deadline
// limits, or a Timeout as the server's publisher sets), with an error that
// names the witness.
func TestSubmitHostile(t *testing.T) {
	quit := make(chan struct{})
	defer close(quit) // before the servers close, which waits for their handlers
	hold := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-quit:
		}
	}
	stall := func(w http.ResponseWriter, r *http.Request) { hold(r) }
	oneByte := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("—"))
		w.(http.Flusher).Flush()
		hold(r)
	}
	short := &http.Client{Transport: &deadline.Transport{Limits: deadline.Limits{Idle: 200 * time.Millisecond, Min: 600 * time.Millisecond}}}
	timeout := &http.Client{Timeout: 300 * time.Millisecond}
	tests := []struct {
		name   string
		h      http.HandlerFunc
		client *http.Client
		want   string // in the error; "" for any timeout
	}{
		{"stalled, deadline limits", stall, short, "no answer for 200ms"},
		{"one byte, deadline limits", oneByte, short, "no data for 200ms"},
		{"stalled, client timeout", stall, timeout, ""},
		{"one byte, client timeout", oneByte, timeout, ""},
	}
	for _, tc := range tests {
		srv := httptest.NewServer(tc.h)
		t.Cleanup(srv.Close)
		start := time.Now()
		_, _, err := Submit(context.Background(), tc.client, srv.URL, 0, nil, []byte("checkpoint"))
		took := time.Since(start)
		var timeout interface{ Timeout() bool }
		switch {
		case !errors.As(err, &timeout) || !timeout.Timeout():
			t.Errorf("%s: got %v, want a timeout", tc.name, err)
		case !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), srv.URL+"/add-checkpoint"):
			t.Errorf("%s: got %v, want an error with %q naming the witness", tc.name, err, tc.want)
		case took > 3*time.Second:
			t.Errorf("%s: failed only after %v", tc.name, took)
		}
	}
}

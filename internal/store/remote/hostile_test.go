package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/deadline"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/transparency"
)

// The server is the attacker in these tests: in front of a real server,
// the route under test stalls, trickles or keeps asking the client to come
// back later, and every call must fail within a bound, with an error that
// names the server and what was being read.

// shortTimeouts keep the tests quick.
var shortTimeouts = Timeouts{Limits: deadline.Limits{Idle: 200 * time.Millisecond, Min: 600 * time.Millisecond, Rate: 4096}, Retry: time.Second}

// slack absorbs a loaded machine in the bounds.
const slack = 3 * time.Second

// attacker holds stalled requests until the client gives up or the test
// ends.
type attacker struct{ quit chan struct{} }

// newAttacker must come after the test server, so that its requests are
// released before the server waits for them to end.
func newAttacker(t *testing.T) *attacker {
	a := &attacker{quit: make(chan struct{})}
	t.Cleanup(func() { close(a.quit) })
	return a
}

func (a *attacker) hold(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-a.quit:
	}
}

// headers starts the answer to r: 1000 bytes, or the range asked for.
func headers(w http.ResponseWriter, r *http.Request) {
	var first, last int
	if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &first, &last); err == nil {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/1000", first, last))
		w.Header().Set("Content-Length", strconv.Itoa(last-first+1))
		w.WriteHeader(http.StatusPartialContent)
		return
	}
	w.Header().Set("Content-Length", "1000")
	w.WriteHeader(http.StatusOK)
}

// stall never answers, nor reads a request body.
func (a *attacker) stall(w http.ResponseWriter, r *http.Request) { a.hold(r) }

// oneByte sends the headers and one byte, then stalls.
func (a *attacker) oneByte(w http.ResponseWriter, r *http.Request) {
	headers(w, r)
	w.Write([]byte(" ")) // white space, which JSON decoders wait past
	http.NewResponseController(w).Flush()
	a.hold(r)
}

// trickle sends a byte every 20 ms, 50 bytes a second.
func (a *attacker) trickle(w http.ResponseWriter, r *http.Request) {
	headers(w, r)
	for {
		if _, err := w.Write([]byte(" ")); err != nil || http.NewResponseController(w).Flush() != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-a.quit:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// busy answers 429 with Retry-After: after, for ever.
func busy(after string) func(*attacker) http.HandlerFunc {
	return func(*attacker) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", after)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":"slow down","code":"rate_limited"}`)
		}
	}
}

// hostileCall is a client call, the route the attacker takes over for it
// and what its error must name.
type hostileCall struct {
	name, match, what string
	reads             bool          // it reads an answer body
	retries           bool          // it retries a 429
	wait              time.Duration // the long poll it asks for
	do                func(ctx context.Context, s, anon *Store) error
}

func hostileCalls(pack string) []hostileCall {
	readAll := func(rc io.ReadCloser, err error) error {
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.ReadAll(rc)
		return err
	}
	data := make([]byte, 1000)
	logRead := func(s *Store, read func(*transparency.Fetcher) ([]byte, error)) error {
		f, err := transparency.NewFetcher(s.HTTPClient(), s.BaseURL())
		if err == nil {
			_, err = read(f)
		}
		return err
	}
	return []hostileCall{
		{"Get", "GET /v1/objects/packs/", "GET packs/" + pack, true, true, 0, func(ctx context.Context, s, _ *Store) error {
			return readAll(s.Get(ctx, store.Packs, pack, 0, -1))
		}},
		{"Get of a range", "GET /v1/objects/packs/", "GET packs/" + pack + " bytes=0-999", true, true, 0, func(ctx context.Context, s, _ *Store) error {
			return readAll(s.Get(ctx, store.Packs, pack, 0, 1000))
		}},
		{"List", "GET /v1/objects/packs/", "LIST packs", true, true, 0, func(ctx context.Context, s, _ *Store) error {
			return s.List(ctx, store.Packs, func(store.ObjectInfo) error { return nil })
		}},
		{"Put", "PUT /v1/objects/packs/", "PUT packs/" + hexSum(data), false, true, 0, func(ctx context.Context, s, _ *Store) error {
			return s.Put(ctx, store.Packs, hexSum(data), bytes.NewReader(data), int64(len(data)))
		}},
		{"chain read", "GET /v1/chain", "reading the device chain from entry 0", true, true, 0, func(ctx context.Context, s, _ *Store) error {
			_, err := s.ChainEntries(ctx, 0)
			return err
		}},
		{"log checkpoint", "GET /log/checkpoint", "/log/checkpoint", true, false, 0, func(ctx context.Context, s, _ *Store) error {
			return logRead(s, func(f *transparency.Fetcher) ([]byte, error) { return f.Checkpoint(ctx) })
		}},
		{"log tile", "GET /log/tile/", "/log/tile/0/000", true, false, 0, func(ctx context.Context, s, _ *Store) error {
			return logRead(s, func(f *transparency.Fetcher) ([]byte, error) { return f.Tile(ctx, "tile/0/000") })
		}},
		{"pairing poll", "GET /v1/pairings/", "reading slot 2 of pairing " + pack[:32], true, true, time.Second, func(ctx context.Context, _, anon *Store) error {
			_, _, err := anon.GetPairing(ctx, pack[:32], 2, time.Second)
			return err
		}},
	}
}

// TestHostileServer checks that no call hangs on a server that stalls
// before answering or after one byte, trickles, or answers 429 for ever.
func TestHostileServer(t *testing.T) {
	attacks := []struct {
		name   string
		h      func(*attacker) http.HandlerFunc
		reads  bool   // meaningful only for calls that read an answer body
		busy   bool   // a 429, which calls that do not retry report at once
		want   string // in the error
		within time.Duration
	}{
		{"stalled", func(a *attacker) http.HandlerFunc { return a.stall }, false, false, "no answer for", shortTimeouts.Retry + shortTimeouts.Idle},
		{"one byte then stalled", func(a *attacker) http.HandlerFunc { return a.oneByte }, true, false, "no data for 200ms", shortTimeouts.Idle},
		{"trickled", func(a *attacker) http.HandlerFunc { return a.trickle }, true, false, "too slow", shortTimeouts.Min},
		{"429 with Retry-After: 60 for ever", busy("60"), false, true, "no time left to retry in 1m0s", 0},
		{"429 with Retry-After: 1 for ever", busy("1"), false, true, "(HTTP 429 rate_limited) (gave up after", shortTimeouts.Retry},
	}
	ts := newTestServer(t, nil)
	a := newAttacker(t)
	s, anon := hostileStores(t, ts)
	ctx := context.Background()
	for _, c := range hostileCalls(hexSum([]byte("pack"))) {
		for _, at := range attacks {
			if at.reads && !c.reads {
				continue
			}
			want := at.want
			if at.busy && !c.retries {
				want = "429"
			}
			ts.faults.set(fault{match: c.match, n: 1000, hostile: at.h(a)})
			start := time.Now()
			err := c.do(ctx, s, anon)
			took := time.Since(start)
			ts.faults.set(fault{})
			t.Logf("%s, %s: %v in %v", c.name, at.name, err, took)
			switch {
			case err == nil:
				t.Errorf("%s, %s: no error", c.name, at.name)
			case !strings.Contains(err.Error(), ts.URL) || !strings.Contains(err.Error(), c.what) || !strings.Contains(err.Error(), want):
				t.Errorf("%s, %s: got %q, want one naming %s, %q and %q", c.name, at.name, err, ts.URL, c.what, want)
			case took > at.within+c.wait+slack:
				t.Errorf("%s, %s: failed only after %v", c.name, at.name, took)
			case strings.Count(err.Error(), "\n") > 0:
				t.Errorf("%s, %s: a multi-line error %q", c.name, at.name, err)
			}
			for _, secret := range ts.faults.secrets() {
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("%s, %s: the error shows a token", c.name, at.name)
				}
			}
		}
	}
}

// hostileStores returns a store of a new account of ts and a store
// without credentials, both with shortTimeouts and the default retry
// policy, whose Retry-After cap is a minute.
func hostileStores(t *testing.T, ts *testServer) (*Store, *Store) {
	t.Helper()
	o := ts.newOwner(t)
	s, err := Open(ts.URL, Options{Account: o.opts.Account, Device: o.opts.Device, Timeouts: shortTimeouts})
	if err != nil {
		t.Fatal(err)
	}
	anon, err := OpenAnonymous(ts.URL, shortTimeouts)
	if err != nil {
		t.Fatal(err)
	}
	s.now, anon.now = ts.clock.now, ts.clock.now
	t.Cleanup(func() { s.Close(); anon.Close() })
	return s, anon
}

// TestLongPollWithin: a pairing poll may wait on the server for as long
// as it asked, even past Idle.
func TestLongPollWithin(t *testing.T) {
	ts := newTestServer(t, nil)
	s, anon := hostileStores(t, ts)
	ctx := context.Background()
	id := hexSum([]byte("pairing"))[:32]
	if err := s.CreatePairing(ctx, id, time.Minute); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, ok, err := anon.GetPairing(ctx, id, 2, time.Second)
	if err != nil || ok || time.Since(start) < time.Second {
		t.Fatalf("poll of an empty slot: %v, %v after %v; want an empty slot after a second", ok, err, time.Since(start))
	}
}

// TestBudgetGrowsWithBody: a call's retry budget is Retry plus its body at
// the floor rate, so that a Put whose body takes longer than Retry to send
// may still be retried.
func TestBudgetGrowsWithBody(t *testing.T) {
	to := shortTimeouts
	to.Rate = 10
	s := &Store{timeouts: to}
	b := s.budget(100)
	if got := b.end.Sub(b.start); got != to.Retry+10*time.Second {
		t.Errorf("budget of a 100-byte upload at 10 bytes/s: %v", got)
	}
}

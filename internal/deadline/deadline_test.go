package deadline

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// short limits keep the tests quick; slack absorbs a loaded machine.
var (
	testLimits = Limits{Idle: 200 * time.Millisecond, Min: 600 * time.Millisecond, Rate: 1000}
	slack      = 3 * time.Second
)

// hostile behaviours of a server, the attacker of these tests.
var (
	// stall never answers.
	stall = func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	// oneByte sends headers and one byte, then stalls.
	oneByte = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte{'x'})
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
	// trickle sends a byte every 20 ms, well under the floor rate.
	trickle = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		for range 100000 {
			if _, err := w.Write([]byte{'x'}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	// quick answers 100 bytes at once.
	quick = func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write(make([]byte, 100))
	}
	// late answers after 400 ms, as a long poll does.
	late = func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(400 * time.Millisecond)
		w.Write([]byte("late"))
	}
)

// serve starts a server of h, over HTTP/1.1 or, with h2, HTTP/2 over TLS,
// and returns a client bounded by testLimits. The requests' contexts end
// when the test does, so that stalled handlers return.
func serve(t *testing.T, h http.HandlerFunc, h2 bool) (*httptest.Server, *http.Client) {
	t.Helper()
	quit := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			select {
			case <-quit:
				cancel()
			case <-ctx.Done():
			}
		}()
		h(w, r.WithContext(ctx))
	}))
	if h2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(quit) })
	base := srv.Client().Transport
	return srv, &http.Client{Transport: &Transport{Base: base, Limits: testLimits}}
}

// zeros is n zero bytes, produced as they are read.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), z.n)
	clear(p[:n])
	z.n -= n
	return int(n), nil
}

// exchange sends a request (a POST of body bytes if body > 0) and reads
// the whole answer, pausing between reads if pause is set.
func exchange(ctx context.Context, c *http.Client, url string, body int64, pause time.Duration) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if body > 0 {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, url, io.NopCloser(&zeros{body}))
		req.ContentLength = body
	}
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var one [1]byte
	for {
		if _, err := resp.Body.Read(one[:]); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		time.Sleep(pause)
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		body    int64         // request body bytes
		wait    time.Duration // WithWait
		pause   time.Duration // between reads of the answer
		want    string        // the error, "" for none
		within  time.Duration // the longest it may take, before slack
	}{
		{"stalled before headers", stall, 0, 0, 0, "no answer for 200ms", testLimits.Idle},
		{"stalled after one byte", oneByte, 0, 0, 0, "no data for 200ms", testLimits.Idle},
		{"trickled", trickle, 0, 0, 0, "too slow", testLimits.Min},
		{"stalled reading the upload", stall, 256 << 20, 0, 0, "no answer for 200ms", 0},
		{"long poll within its wait", late, 0, 500 * time.Millisecond, 0, "", 0},
		{"long poll past Idle without a wait", late, 0, 0, 0, "no answer for 200ms", testLimits.Idle},
		{"slow reader past Min is no slow server", quick, 1000, 0, 8 * time.Millisecond, "", 0},
	}
	for _, h2 := range []bool{false, true} {
		for _, tc := range tests {
			srv, c := serve(t, tc.handler, h2)
			ctx := WithWait(context.Background(), tc.wait)
			start := time.Now()
			err := exchange(ctx, c, srv.URL, tc.body, tc.pause)
			took := time.Since(start)
			t.Logf("%s h2=%v: %v in %v", tc.name, h2, err, took)
			var de *Error
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("%s (h2 %v): %v", tc.name, h2, err)
			case tc.want != "" && (!errors.As(err, &de) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("%s (h2 %v): got %v, want a *deadline.Error with %q", tc.name, h2, err, tc.want)
			case tc.want != "" && took > tc.within+slack:
				t.Errorf("%s (h2 %v): failed only after %v", tc.name, h2, took)
			}
		}
	}
}

// TestCallerCancels: the caller's own cancellation stays its own error.
func TestCallerCancels(t *testing.T) {
	srv, c := serve(t, stall, false)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := exchange(ctx, c, srv.URL, 0, 0)
	var de *Error
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &de) {
		t.Fatalf("got %v, want the caller's deadline", err)
	}
}

// TestClient: Client bounds a plain client and leaves a bounded one be.
func TestClient(t *testing.T) {
	bounded := &http.Client{Transport: &Transport{}}
	if Client(bounded) != bounded {
		t.Error("a bounded client was wrapped again")
	}
	plain := &http.Client{Timeout: time.Hour}
	c := Client(plain)
	if _, ok := c.Transport.(*Transport); !ok || c.Timeout != time.Hour || plain.Transport != nil {
		t.Errorf("Client(plain) = %+v, and plain is now %+v", c, plain)
	}
}

func TestTransfer(t *testing.T) {
	l := Limits{Rate: 1 << 10}
	if got := l.Transfer(10 << 10); got != 10*time.Second {
		t.Errorf("10 KiB at 1 KiB/s: %v", got)
	}
	if got := (Limits{}).Transfer(DefaultRate * 60); got != time.Minute {
		t.Errorf("a minute at the default rate: %v", got)
	}
}

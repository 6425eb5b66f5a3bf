package deadline

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// watch times one exchange: it runs a timer while the client waits on the
// server, and cancels the exchange's context once the limits are broken.
type watch struct {
	lim    Limits
	wait   time.Duration // the request's long-poll allowance
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	heading  bool // awaiting the answer's headers
	answered bool // the headers arrived (or the exchange failed)
	inBody   bool // the transport is in a Read of the request body
	reading  bool // the caller is in a Read of the answer's body
	since    time.Time
	waited   time.Duration // waiting before since
	moved    int64
	gen      uint64 // counts timer schedules, so a stale one does nothing
	timer    *time.Timer
	fired    *Error // why the exchange was cancelled
	over     bool   // the exchange ended: no more timing
}

// waiting reports whether the client is waiting on the server.
func (w *watch) waiting() bool { return (w.heading && !w.inBody) || w.reading }

// idle is the longest wait for progress now.
func (w *watch) idle() time.Duration {
	if w.answered {
		return w.lim.Idle
	}
	return w.lim.Idle + w.wait
}

// allowed is the waiting allowed in all, given what has moved.
func (w *watch) allowed() time.Duration {
	return w.lim.Min + w.wait + w.lim.Transfer(w.moved)
}

// change applies f to the state, counts the wait that ended and starts
// timing the one that begins.
func (w *watch) change(f func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if w.waiting() {
		w.waited += now.Sub(w.since)
	}
	f()
	w.gen++
	if w.timer != nil {
		w.timer.Stop()
	}
	if w.over || w.fired != nil || !w.waiting() {
		return
	}
	w.since = now
	gen := w.gen
	w.timer = time.AfterFunc(min(w.idle(), w.allowed()-w.waited), func() { w.fire(gen) })
}

// fire cancels the exchange, unless the state changed since the timer
// was set.
func (w *watch) fire(gen uint64) {
	w.mu.Lock()
	if gen != w.gen || w.over || w.fired != nil {
		w.mu.Unlock()
		return
	}
	waited := w.waited + time.Since(w.since)
	w.fired = &Error{Stalled: waited < w.allowed(), Answered: w.answered, Idle: w.idle(), Waited: waited, Moved: w.moved}
	err := w.fired
	w.mu.Unlock()
	w.cancel(err)
}

// explain returns the *Error if the watch cancelled the exchange, else err.
func (w *watch) explain(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fired != nil {
		return w.fired
	}
	return err
}

// stop ends the timing: the answer is read to its end.
func (w *watch) stop() { w.change(func() { w.over = true }) }

// close ends the timing and the exchange's context.
func (w *watch) close() {
	w.stop()
	w.cancel(nil)
}

// watchBody makes req's body, if any, report its progress.
func (w *watch) watchBody(req *http.Request) {
	if req.Body == nil || req.Body == http.NoBody {
		return
	}
	req.Body = &sent{rc: req.Body, w: w}
	if get := req.GetBody; get != nil {
		req.GetBody = func() (io.ReadCloser, error) {
			rc, err := get()
			if err != nil || rc == http.NoBody {
				return rc, err
			}
			return &sent{rc: rc, w: w}, nil
		}
	}
}

// sent is a request body under watch: the time the transport spends in
// its Read is the caller's, not the server's.
type sent struct {
	rc io.ReadCloser
	w  *watch
}

func (s *sent) Read(p []byte) (int, error) {
	s.w.change(func() { s.w.inBody = true })
	n, err := s.rc.Read(p)
	s.w.change(func() { s.w.inBody, s.w.moved = false, s.w.moved+int64(n) })
	return n, err
}

func (s *sent) Close() error { return s.rc.Close() }

// answer is a response body under watch: the time spent in its Read is
// spent waiting on the server. Closing it ends the exchange.
type answer struct {
	rc io.ReadCloser
	w  *watch
}

func (a *answer) Read(p []byte) (int, error) {
	if err := a.w.explain(nil); err != nil {
		return 0, err
	}
	a.w.change(func() { a.w.reading = true })
	n, err := a.rc.Read(p)
	a.w.change(func() { a.w.reading, a.w.moved = false, a.w.moved+int64(n) })
	switch {
	case err == io.EOF:
		a.w.stop()
	case err != nil:
		err = a.w.explain(err)
	}
	return n, err
}

func (a *answer) Close() error {
	err := a.rc.Close()
	a.w.close()
	return err
}

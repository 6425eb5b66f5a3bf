// Package deadline bounds how long an HTTP server can hold a client's
// request. Coffer treats its server (and a witness, and the log) as an
// adversary: one that accepts a request and then stalls, or trickles its
// answer a byte at a time, must make the request fail with an *Error, never
// hang the command. net/http's own timeouts cover connecting, the TLS
// handshake and the wait for response headers; nothing in it bounds the
// reading of a body.
//
// Transport enforces Limits on every exchange (docs/api.md, Client
// deadlines). An exchange fails
//
//   - when it makes no progress for Idle while the client is waiting on the
//     server: no byte of the answer arrives and no byte of the request body
//     is taken (Idle plus the request's Wait until the answer's headers
//     arrive, for long polls, see WithWait);
//   - when the client's time spent waiting on the server passes
//     Min + Wait + moved/Rate, moved being the body bytes sent and
//     received so far: past a grace of Min, the exchange must average Rate
//     bytes a second.
//
// Waiting on the server is the time from the start of the exchange to its
// answer's headers (connecting included), less the time spent producing the
// request body, and the time spent inside Read calls of the answer's body.
// Time the caller takes between reads is not counted: a slow reader is not
// a slow server.
package deadline

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Defaults of Limits.
const (
	DefaultIdle = 30 * time.Second
	DefaultMin  = 2 * time.Minute
	DefaultRate = 32 << 10 // bytes per second: 256 kbit/s
)

// Limits bound an exchange; a zero field takes its default.
type Limits struct {
	Idle time.Duration // the longest wait for progress (DefaultIdle)
	Min  time.Duration // the waiting every exchange is allowed (DefaultMin)
	Rate int64         // the floor rate past Min, in bytes a second (DefaultRate)
}

// OrDefaults returns l with each zero or negative field set to its default.
func (l Limits) OrDefaults() Limits {
	if l.Idle <= 0 {
		l.Idle = DefaultIdle
	}
	if l.Min <= 0 {
		l.Min = DefaultMin
	}
	if l.Rate <= 0 {
		l.Rate = DefaultRate
	}
	return l
}

// Transfer is the time n bytes take at the floor rate.
func (l Limits) Transfer(n int64) time.Duration {
	l = l.OrDefaults()
	return time.Duration(float64(max(n, 0)) / float64(l.Rate) * float64(time.Second))
}

// Error is an exchange that the server stalled or dragged out. Callers
// wrap it with the request and the server it went to.
type Error struct {
	Stalled  bool          // no progress for Idle, rather than too slow in all
	Answered bool          // the answer's headers had arrived
	Idle     time.Duration // the wait for progress that was allowed
	Waited   time.Duration // the time spent waiting on the server
	Moved    int64         // the body bytes sent and received
}

func (e *Error) Error() string {
	switch {
	case e.Stalled && e.Answered:
		return fmt.Sprintf("no data for %v", short(e.Idle))
	case e.Stalled:
		return fmt.Sprintf("no answer for %v", short(e.Idle))
	}
	return fmt.Sprintf("too slow: %d bytes in %v of waiting on the server", e.Moved, short(e.Waited))
}

// Timeout reports true, as net.Error's method does for timeouts.
func (e *Error) Timeout() bool { return true }

// short rounds d for an error message: to the second from 10 s up, else
// to the millisecond.
func short(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

// waitKey is the context key of WithWait.
type waitKey struct{}

// WithWait returns ctx for a request whose server may take d longer than
// Idle to answer, and d longer in all: a long poll that asks the server to
// hold the answer up to d.
func WithWait(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, waitKey{}, d)
}

// waitOf is the Wait of a request's context.
func waitOf(ctx context.Context) time.Duration {
	d, _ := ctx.Value(waitKey{}).(time.Duration)
	return max(d, 0)
}

// Transport is an http.RoundTripper that enforces Limits on every
// exchange of Base (http.DefaultTransport if nil). An exchange that breaks
// them is cancelled, and its RoundTrip or body Read fails with an *Error.
type Transport struct {
	Base   http.RoundTripper
	Limits Limits
}

// RoundTrip sends req under a watch that cancels it when the server
// breaks the limits; the answer's body stays under watch until closed.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	w := &watch{lim: t.Limits.OrDefaults(), wait: waitOf(ctx), cancel: cancel}
	req = req.WithContext(ctx)
	w.watchBody(req)
	w.change(func() { w.heading = true })
	resp, err := t.base().RoundTrip(req)
	w.change(func() { w.heading, w.answered = false, true })
	if err != nil {
		w.close()
		return nil, w.explain(err)
	}
	resp.Body = &answer{rc: resp.Body, w: w}
	return resp, nil
}

func (t *Transport) base() http.RoundTripper {
	if t.Base == nil {
		return http.DefaultTransport
	}
	return t.Base
}

// CloseIdleConnections closes Base's idle connections, if it can.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base().(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Client returns c if its transport is a *Transport, and otherwise a copy
// of c whose transport wraps c's in one with default Limits, so that every
// request it sends is bounded.
func Client(c *http.Client) *http.Client {
	if _, ok := c.Transport.(*Transport); ok {
		return c
	}
	bounded := *c
	bounded.Transport = &Transport{Base: c.Transport}
	return &bounded
}

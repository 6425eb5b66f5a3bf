package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/metrics"
	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/tlog"
)

// call is one request being handled.
type call struct {
	w       *responseWriter
	r       *http.Request
	body    *countingReader // r.Body, counted: handlers read this
	route   string          // the route's name, or "unmatched"
	kind    store.Kind      // object kind, for object routes
	name    string          // object name, ref name, pairing id, account name or log path
	other   string          // the account named by the path, if any
	slot    int             // the pairing slot named by the path, if any
	tile    tlog.Tile       // the log tile or entry bundle named by the path, if any
	account string          // after authentication
	dev     meta.Device     // the principal, after authentication
	err     *apiError       // the error answered, if any
	cause   error           // what caused a 5xx, for the log
	client  string          // the client's address (clientAddr), for rate limits and logs

	rc       *http.ResponseController
	progress time.Duration // how long a read or write may stall
}

func (c *call) ctx() context.Context { return c.r.Context() }

// stallAfter sets the time after which reads and writes of the request's
// connection fail; the zero time means never. A deadline that expires while
// the handler runs also cancels the request's context (net/http reads in
// the background once the body is consumed), so long transfers must keep
// pushing it on.
func (c *call) stallAfter(t time.Time) {
	_ = c.rc.SetReadDeadline(t)  // unsupported only off a real connection (tests)
	_ = c.rc.SetWriteDeadline(t) // likewise
}

// serveHTTP handles one request: rate limits, routing, authentication, the
// route's handler, then a log line and metrics. A panic is answered with a
// 500 rather than killing the connection.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// r.Body stays as it is: net/http decides by its type how to dispose of
	// a body the handler left unread.
	c := &call{w: &responseWriter{ResponseWriter: w}, r: r, route: "unmatched", body: &countingReader{rc: r.Body},
		client: clientAddr(r, s.cfg.TrustedProxies),
		rc:     http.NewResponseController(w), progress: s.progress}
	defer s.finish(c, start)
	defer s.recoverPanic(c)
	// No read or write may stall for longer than c.progress; uploads and
	// downloads push the deadline on as they make progress. Without it a
	// client could hold a connection by trickling a body that net/http
	// drains after the handler has answered.
	c.stallAfter(start.Add(c.progress))
	if err := s.dispatch(c); err != nil {
		s.fail(c, err)
	}
}

// dispatch limits the client's rate (except for /healthz and /metrics),
// routes the request; if the route needs a token, authenticates it, limits
// the account's rate and checks the principal's rights; then runs the
// route's handler.
func (s *Server) dispatch(c *call) error {
	path := c.r.URL.EscapedPath()
	if path != "/healthz" && path != "/metrics" {
		if err := s.limit(s.byAddr, clientKey(c.client)); err != nil {
			return err
		}
	}
	if s.webApp(c.w, c.r) {
		c.route = "web_app"
		return nil
	}
	t, err := resolve(path)
	if err != nil {
		return err
	}
	rt, err := t.pick(c.w, c.r.Method)
	if err != nil {
		return err
	}
	c.route, c.kind, c.name, c.other, c.slot, c.tile = rt.name, t.kind, t.name, t.account, t.slot, t.tile
	if rt.auth {
		if err := s.authenticate(c); err != nil {
			return err
		}
		if err := s.limit(s.byAcct, c.account); err != nil {
			return err
		}
		if !slices.Contains(rt.allow, c.dev.Rights) {
			return forbidden("a principal with %s rights may not do this", c.dev.Rights)
		}
	}
	return rt.handle(s, c)
}

// limit spends a token of key's bucket or returns a 429.
func (s *Server) limit(l *limiter, key string) error {
	wait := l.take(key, time.Now())
	if wait == 0 {
		return nil
	}
	e := newError(http.StatusTooManyRequests, wire.CodeRateLimited, "too many requests; retry later")
	e.retryAfter = retrySeconds(wait)
	return e
}

// authenticate resolves the bearer token to its account and principal.
func (s *Server) authenticate(c *call) error {
	tok, ok := strings.CutPrefix(c.r.Header.Get("Authorization"), "Bearer ")
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if !ok || err != nil || len(raw) != wire.TokenBytes {
		return unauthenticated("missing or malformed bearer token")
	}
	account, dev, err := s.db.Token(c.ctx(), sha256.Sum256(raw), s.cfg.Now())
	if errors.Is(err, meta.ErrNotFound) {
		return unauthenticated("unknown or expired token, or revoked device")
	}
	if err != nil {
		return err
	}
	if _, err := s.checkWeb(c.ctx(), account, dev); err != nil {
		return err
	}
	c.account, c.dev = account, dev
	return nil
}

// fail answers err, unless the response has begun (then the client sees
// the body cut short).
func (s *Server) fail(c *call, err error) {
	c.err = asAPIError(err)
	if c.err.status >= 500 {
		c.cause = err
	}
	if c.w.code == 0 {
		writeError(c.w, c.err)
	}
}

func (s *Server) recoverPanic(c *call) {
	if v := recover(); v != nil {
		s.fail(c, fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
	}
}

// finish logs the request and records its metrics. It logs no header, body,
// token, challenge or signature.
func (s *Server) finish(c *call, start time.Time) {
	d := time.Since(start)
	status := c.w.code
	if status == 0 {
		status = http.StatusOK // what net/http sends for a handler that wrote nothing
	}
	q := metrics.Request{Route: c.route, Status: status, Duration: d, Received: c.body.n, Sent: c.w.n}
	attrs := []slog.Attr{
		slog.String("method", c.r.Method),
		slog.String("route", c.route),
		slog.Int("status", status),
		slog.Int64("received", c.body.n),
		slog.Int64("sent", c.w.n),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("client", c.client),
	}
	if c.kind != "" || c.name != "" {
		attrs = append(attrs, slog.String("target", strings.TrimPrefix(string(c.kind)+"/"+c.name, "/")))
	}
	if c.account != "" {
		attrs = append(attrs, slog.String("account", c.account), slog.String("device", c.dev.ID))
	}
	level := slog.LevelInfo
	if c.err != nil {
		q.ErrorCode = c.err.code
		attrs = append(attrs, slog.String("code", c.err.code), slog.String("error", c.err.msg))
	}
	if c.cause != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("cause", c.cause.Error()))
	}
	s.metrics.Observe(q)
	s.log.LogAttrs(context.Background(), level, "request", attrs...)
}

// responseWriter records the status and the number of body bytes sent.
type responseWriter struct {
	http.ResponseWriter
	code int   // 0 until the header is written
	n    int64 // body bytes written
}

func (w *responseWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingReader counts the request body bytes read.
type countingReader struct {
	rc io.ReadCloser
	n  int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.n += int64(n)
	return n, err
}

func (r *countingReader) Close() error { return r.rc.Close() }

package remote

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/coffer-backup/coffer/internal/deadline"
	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store"
)

// Bounds on what the server may make the client read.
const (
	maxErrorBody = 4 << 10 // an error response
	maxJSONBody  = 1 << 20 // any other JSON response: a list page, a ref, the devices
	maxMessage   = 200     // runes of a server message kept in an error
)

// request is one API call, which do may send several times.
type request struct {
	method string
	path   string // below the endpoint, starting with "/v1/"
	what   string // the call as errors name it, e.g. "PUT packs/0123…"
	header map[string]string
	anon   bool          // sent without a token
	step   bool          // one step of a sequence that is retried as a whole: sent once
	limit  int64         // the largest JSON answer accepted; maxJSONBody if 0
	size   int64         // the body's length, which extends the retry budget
	wait   time.Duration // how long the server is asked to hold its answer
	bulk   bool          // a large answer (a pack's range): sent over the HTTP/1.1 client

	// body returns the body for a try, with its length; nil means none.
	// try counts from 1. It fails if the body cannot be sent again.
	body func(try int) (io.ReadCloser, int64, error)
	// sent reports the error of reading the body during the last try,
	// which explains a failed try better than the transport's error.
	sent     func() error
	noReplay bool // the body can be sent only once

	// ambiguous is set once a try failed in a way that may have left the
	// request done (no answer, or a 5xx), so that a refusal of a later try
	// may be the echo of an earlier one.
	ambiguous bool
}

// jsonBody makes the request send v as its JSON body.
func (rq *request) jsonBody(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	rq.body = func(int) (io.ReadCloser, int64, error) { return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil }
	rq.header = map[string]string{"Content-Type": "application/json"}
	return nil
}

// Error is a refusal by the server: an HTTP error status with the server's
// one-line message. errors.Is matches store.ErrNotFound for 404 and
// store.ErrExists for 409 "exists", so callers treat it like any backend's.
type Error struct {
	Op      string // the call refused, naming its object
	Server  string // the server that refused it
	Status  int    // the HTTP status
	Code    string // the API's error code, if the server gave one
	Message string // the server's message, reduced to one printable line
	Version int64  // the current version of a ref, on a 409 conflict
	Length  uint64 // the current length of the chain, on a 409 conflict
	after   time.Duration
	login   bool // refused while logging in, so it says nothing of objects
}

// IsRevoked reports whether err is the server's refusal to log this
// principal in because it was revoked (docs/api.md: 403 at login), as a
// removed device is.
func IsRevoked(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.login && e.Status == http.StatusForbidden
}

func (e *Error) Error() string {
	op := e.Op
	if e.Server != "" {
		op += " on " + e.Server
	}
	return strings.TrimSuffix(fmt.Sprintf("%s: %s (HTTP %d %s", op, e.Message, e.Status, e.Code), " ") + ")"
}

// Is makes errors.Is match store.ErrNotFound for 404, store.ErrExists for
// 409 "exists" and store.ErrConflict for 409 "conflict", unless a login
// was refused: an unknown account or device must not pass for a missing
// object.
func (e *Error) Is(target error) bool {
	if e.login {
		return false
	}
	switch target {
	case store.ErrNotFound:
		return e.Status == http.StatusNotFound
	case store.ErrExists:
		return e.Status == http.StatusConflict && e.Code != wire.CodeConflict
	case store.ErrConflict:
		return e.Status == http.StatusConflict && e.Code == wire.CodeConflict
	}
	return false
}

// definite reports whether e is an answer that says the request did
// nothing: any 4xx (docs/api.md, Errors). A nil e is no answer at all.
func (e *Error) definite() bool { return e != nil && e.Status/100 == 4 }

// temporary reports whether the server asks to be tried again.
func (e *Error) temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// do sends rq, authenticating unless rq.anon, until it succeeds, fails for
// good, or runs out of tries or of time (Timeouts.Retry). A 401 makes it
// fetch a new token and try once more. It returns only 2xx responses; the
// caller closes their bodies.
func (s *Store) do(ctx context.Context, rq *request) (*http.Response, error) {
	if rq.step {
		return s.exchange(ctx, rq, "", 1)
	}
	var resp *http.Response
	reauthed := false
	b := s.budget(rq.size)
	err := s.retry(ctx, b, func(try int) error {
		tok, err := s.bearer(ctx, rq.anon, b)
		if err != nil {
			return err
		}
		resp, err = s.exchange(ctx, rq, tok, try)
		var se *Error
		errors.As(err, &se)
		if se != nil && se.Status == http.StatusUnauthorized && !rq.anon && !reauthed {
			reauthed = true
			s.dropToken(tok)
			err = &retryable{err: err}
		}
		var r *retryable
		if !errors.As(err, &r) {
			return err
		}
		if !se.definite() {
			rq.ambiguous = true
		}
		if rq.noReplay {
			return r.err // the body cannot be sent again
		}
		return err
	})
	return resp, err
}

// retryable marks a failure worth another try, after at least after.
type retryable struct {
	err   error
	after time.Duration
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// budget is the time a call's tries may take: from start, none begins
// after end.
type budget struct{ start, end time.Time }

// budget is that of a call whose request body has size bytes: Retry plus
// the time size bytes take at the floor rate.
func (s *Store) budget(size int64) budget {
	now := time.Now()
	return budget{start: now, end: now.Add(s.timeouts.Retry + s.timeouts.Transfer(size))}
}

// retry calls op until it returns nil or an error not marked retryable, at
// most s.policy.attempts times, pausing between tries. It gives up early
// rather than pause past b's end, so a server that keeps answering 429
// with a long Retry-After, or keeps stalling, holds it at most until then.
func (s *Store) retry(ctx context.Context, b budget, op func(try int) error) error {
	for try := 1; ; try++ {
		err := op(try)
		var r *retryable
		if !errors.As(err, &r) {
			return err
		}
		spent, pause := time.Since(b.start).Round(time.Millisecond), s.policy.delay(try, r.after)
		switch {
		case try >= s.policy.attempts:
			return fmt.Errorf("%w (gave up after %s in %v)", r.err, tries(try), spent)
		case time.Now().Add(pause).After(b.end):
			return fmt.Errorf("%w (gave up after %s in %v: no time left to retry in %v)", r.err, tries(try), spent, pause.Round(time.Millisecond))
		}
		if err := store.Sleep(ctx, pause); err != nil {
			return fmt.Errorf("%w (while waiting to retry after: %v)", err, r.err)
		}
	}
}

// tries is "1 try" or "n tries".
func tries(n int) string {
	if n == 1 {
		return "1 try"
	}
	return strconv.Itoa(n) + " tries"
}

// exchange sends one try of rq and turns a non-2xx answer into an *Error.
// Failures worth retrying come back marked retryable.
func (s *Store) exchange(ctx context.Context, rq *request, tok string, try int) (*http.Response, error) {
	if rq.wait > 0 {
		ctx = deadline.WithWait(ctx, rq.wait)
	}
	req, err := s.newRequest(ctx, rq, tok, try)
	if err != nil {
		return nil, err
	}
	c := s.client
	if req.ContentLength >= bulkBody || rq.bulk {
		c = s.bulk
	}
	resp, err := c.Do(req)
	if rq.sent != nil {
		if berr := rq.sent(); berr != nil {
			if resp != nil {
				resp.Body.Close()
			}
			return nil, fmt.Errorf("%s: %w", rq.what, berr)
		}
	}
	if err != nil {
		return nil, s.transportError(ctx, rq, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	se := readError(rq.what, s.ep.String(), resp)
	if se.temporary() {
		return nil, &retryable{err: se, after: se.after}
	}
	return nil, se
}

// newRequest builds the HTTP request of one try.
func (s *Store) newRequest(ctx context.Context, rq *request, tok string, try int) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, rq.method, s.ep.base+rq.path, http.NoBody)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rq.what, err)
	}
	if rq.body != nil {
		body, n, err := rq.body(try)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rq.what, err)
		}
		req.Body, req.ContentLength = body, n
		if n == 0 {
			req.Body = http.NoBody
		}
	}
	for k, v := range rq.header {
		req.Header.Set(k, v)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req, nil
}

// transportError explains a request that got no answer. Network failures
// are retryable; cancellation and certificate failures are not.
func (s *Store) transportError(ctx context.Context, rq *request, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", rq.what, ctx.Err())
	}
	var (
		pin *PinError
		cve *tls.CertificateVerificationError
		ue  *url.Error
	)
	if errors.As(err, &ue) {
		err = ue.Err // drop the URL: the error names the object already
	}
	err = fmt.Errorf("%s on %s: %w", rq.what, s.ep, err)
	if errors.As(err, &pin) || errors.As(err, &cve) {
		return err
	}
	return &retryable{err: err}
}

// readError reads a non-2xx response of server into an *Error and closes
// it.
func readError(what, server string, resp *http.Response) *Error {
	defer resp.Body.Close()
	e := &Error{Op: what, Server: server, Status: resp.StatusCode, after: retryAfter(resp.Header.Get("Retry-After"))}
	var body wire.Error
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if json.Unmarshal(b, &body) == nil {
		e.Code, e.Message = oneLine(body.Code, 32), oneLine(body.Error, maxMessage)
		if body.Version != nil {
			e.Version = *body.Version
		}
		if body.Length != nil {
			e.Length = *body.Length
		}
	}
	if e.Message == "" {
		e.Message = strings.ToLower(http.StatusText(resp.StatusCode))
	}
	return e
}

// oneLine keeps at most n runes of s, with every control or non-printable
// character made a space, so a hostile server cannot forge terminal output.
func oneLine(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if n--; n < 0 {
			b.WriteString("…")
			break
		}
		if !unicode.IsPrint(r) {
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}

// retryAfter parses a Retry-After header given in seconds; anything else
// counts as no wait.
func retryAfter(h string) time.Duration {
	secs, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || secs < 0 {
		return 0
	}
	return time.Duration(min(secs, 3600)) * time.Second
}

// callJSON sends rq and decodes its JSON answer into out, if out is not
// nil. It returns the answer's header.
func (s *Store) callJSON(ctx context.Context, rq *request, out any) (http.Header, error) {
	resp, err := s.do(ctx, rq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out == nil {
		return resp.Header, nil
	}
	limit := rq.limit
	if limit == 0 {
		limit = maxJSONBody
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, limit)).Decode(out); err != nil {
		return nil, s.answerError(rq, err)
	}
	return resp.Header, nil
}

// answerError explains why the answer to rq could not be read: the server
// stopped sending it (a timeout, a broken connection), or it is malformed.
func (s *Store) answerError(rq *request, err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	if errors.As(err, &syntax) || errors.As(err, &typ) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: malformed answer from %s: %w", rq.what, s.ep, err)
	}
	return fmt.Errorf("%s on %s: %w", rq.what, s.ep, err)
}

package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/upload"
)

// objectPath is the URL path of kind/name, which store.CheckName has
// limited to characters that need no escaping.
func objectPath(kind store.Kind, name string) string {
	return "/v1/objects/" + string(kind) + "/" + name
}

// contentAddressed reports whether the server names objects of kind by the
// SHA-256 of their bytes, so that the name fixes the content.
func contentAddressed(kind store.Kind) bool {
	return kind != store.Config && kind != store.Keys
}

// Put streams size bytes of r to kind/name. r is read once, as the request
// goes out, and never after Put returns. Once ctx is done no further byte is
// sent, so a Put cancelled before its last read of r returns stores nothing.
// If r is an io.Seeker the upload is retried after a failure; a retry that
// finds the object already there counts as success if the object is the one
// being sent (for content-addressed kinds, if its size matches; otherwise
// byte for byte).
func (s *Store) Put(ctx context.Context, kind store.Kind, name string, r io.Reader, size int64) error {
	if err := store.CheckName(kind, name); err != nil {
		return err
	}
	what := fmt.Sprintf("PUT %s/%s", kind, name)
	u, err := upload.New(ctx, r, size)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer u.Detach()
	rq := &request{
		method: http.MethodPut, path: objectPath(kind, name), what: what,
		header: map[string]string{"Content-Type": "application/octet-stream"},
		body:   bodies(u), sent: u.Failure, noReplay: !u.Rewindable(), size: size,
	}
	resp, err := s.do(ctx, rq)
	if err == nil {
		discard(resp)
		return nil
	}
	if errors.Is(err, store.ErrExists) && rq.ambiguous && s.holds(ctx, kind, name, u) {
		return nil
	}
	return err
}

// holds reports whether kind/name, found taken by a retried Put, holds the
// bytes of u.
func (s *Store) holds(ctx context.Context, kind store.Kind, name string, u *upload.Upload) bool {
	oi, err := s.Stat(ctx, kind, name)
	if err != nil || oi.Size != u.Size() {
		return false
	}
	return contentAddressed(kind) || u.Matches(func() (io.ReadCloser, error) { return s.Get(ctx, kind, name, 0, -1) })
}

// Get returns length bytes of kind/name from offset, or to the end if
// length is negative. The reader fails unless the server sends exactly the
// bytes asked for.
func (s *Store) Get(ctx context.Context, kind store.Kind, name string, offset, length int64) (io.ReadCloser, error) {
	if err := store.CheckName(kind, name); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("GET %s/%s", kind, name)
	switch {
	case offset < 0:
		return nil, fmt.Errorf("%s: negative offset %d", what, offset)
	case length == 0:
		return s.empty(ctx, kind, name, offset)
	}
	bulk := kind == store.Packs && (length < 0 || length >= bulkBody)
	if offset == 0 && length < 0 {
		return s.get(ctx, what, objectPath(kind, name), "", -1, bulk)
	}
	resp, err := s.get(ctx, what, objectPath(kind, name), store.HTTPRange(offset, length), length, bulk)
	var se *Error
	if length < 0 && errors.As(err, &se) && se.Status == http.StatusRequestedRangeNotSatisfiable {
		return s.empty(ctx, kind, name, offset) // bytes=size- is unsatisfiable, yet a valid empty read
	}
	return resp, err
}

// empty returns an empty reader if offset is within kind/name.
func (s *Store) empty(ctx context.Context, kind store.Kind, name string, offset int64) (io.ReadCloser, error) {
	oi, err := s.Stat(ctx, kind, name)
	if err != nil {
		return nil, err
	}
	if offset > oi.Size {
		return nil, fmt.Errorf("GET %s/%s: offset %d is past the end of the %d-byte object", kind, name, offset, oi.Size)
	}
	return io.NopCloser(strings.NewReader("")), nil
}

// get sends a GET, ranged unless rng is empty, and checks that the answer
// is exactly the bytes asked for: the whole object, or length bytes (to
// the end if negative) of the range. A bulk GET (a pack's range of at
// least bulkBody bytes, or to its end) goes over the HTTP/1.1 client, on a
// connection of its own: over HTTP/2 every parallel read of a restore
// would share one connection, whose one TLS stream each side encrypts and
// decrypts on one goroutine.
func (s *Store) get(ctx context.Context, what, path, rng string, length int64, bulk bool) (io.ReadCloser, error) {
	rq := &request{method: http.MethodGet, path: path, what: what, bulk: bulk}
	if rng != "" {
		rq.what += " " + rng
		rq.header = map[string]string{"Range": rng}
	}
	resp, err := s.do(ctx, rq)
	if err != nil {
		return nil, err
	}
	n, err := servedLength(resp, rng, length)
	if err != nil {
		discard(resp)
		return nil, fmt.Errorf("%s: %w", rq.what, err)
	}
	return &exactBody{ctx: ctx, rc: resp.Body, left: n, what: rq.what + " on " + s.ep.String()}, nil
}

// servedLength checks that resp serves what was asked and returns how many
// bytes its body must hold (-1: unknown, for a whole object sent without a
// Content-Length).
func servedLength(resp *http.Response, rng string, length int64) (int64, error) {
	switch {
	case rng == "" && resp.StatusCode == http.StatusOK:
		return resp.ContentLength, nil
	case rng != "" && resp.StatusCode == http.StatusPartialContent:
		var first, last, size int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &size); err != nil {
			return 0, fmt.Errorf("malformed Content-Range %q", resp.Header.Get("Content-Range"))
		}
		want := fmt.Sprintf("bytes=%d-%d", first, last)
		if length < 0 {
			want = fmt.Sprintf("bytes=%d-", first)
			length = size - first
		}
		if want != rng || last-first+1 != length || last >= size || first > last {
			return 0, fmt.Errorf("the server sent bytes %d-%d of %d instead (the range is outside the object)", first, last, size)
		}
		return length, nil
	}
	return 0, fmt.Errorf("unexpected answer %s", resp.Status)
}

// exactBody is a response body that must hold exactly left more bytes
// (any number if left is negative). It fails once ctx is done: the
// transport notices a cancelled request only some time after the
// cancellation, and until then would go on delivering what the server sent.
type exactBody struct {
	ctx  context.Context
	rc   io.ReadCloser
	left int64
	what string // the request and the server, as errors name them
}

func (e *exactBody) Read(p []byte) (int, error) {
	if e.left == 0 {
		return 0, io.EOF
	}
	if err := e.ctx.Err(); err != nil {
		return 0, fmt.Errorf("%s: %w", e.what, err)
	}
	if e.left > 0 && int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.rc.Read(p)
	if e.left > 0 {
		e.left -= int64(n)
	}
	switch {
	case err == io.EOF && e.left > 0:
		return n, fmt.Errorf("%s: the server sent %d bytes too few: %w", e.what, e.left, io.ErrUnexpectedEOF)
	case err != nil && err != io.EOF:
		return n, fmt.Errorf("%s: %w", e.what, err)
	}
	return n, err
}

func (e *exactBody) Close() error { return e.rc.Close() }

// Stat returns the size of kind/name from a HEAD request.
func (s *Store) Stat(ctx context.Context, kind store.Kind, name string) (store.ObjectInfo, error) {
	if err := store.CheckName(kind, name); err != nil {
		return store.ObjectInfo{}, err
	}
	rq := &request{method: http.MethodHead, path: objectPath(kind, name), what: fmt.Sprintf("HEAD %s/%s", kind, name)}
	resp, err := s.do(ctx, rq)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	discard(resp)
	if resp.ContentLength < 0 {
		return store.ObjectInfo{}, fmt.Errorf("%s: the server gave no Content-Length", rq.what)
	}
	return store.ObjectInfo{Name: name, Size: resp.ContentLength}, nil
}

// Delete removes kind/name. If a retry finds it gone after an earlier try
// may have deleted it, Delete succeeds.
func (s *Store) Delete(ctx context.Context, kind store.Kind, name string) error {
	if err := store.CheckName(kind, name); err != nil {
		return err
	}
	rq := &request{method: http.MethodDelete, path: objectPath(kind, name), what: fmt.Sprintf("DELETE %s/%s", kind, name)}
	resp, err := s.do(ctx, rq)
	if err == nil {
		discard(resp)
		return nil
	}
	if errors.Is(err, store.ErrNotFound) && rq.ambiguous {
		return nil
	}
	return err
}

// listPage is one page of a listing (docs/api.md, Objects).
type listPage wire.ListResponse

// List calls fn for every object of kind, page by page in name order.
func (s *Store) List(ctx context.Context, kind store.Kind, fn func(store.ObjectInfo) error) error {
	if !kind.Valid() {
		return fmt.Errorf("unknown object kind %q", kind)
	}
	for after := ""; ; {
		rq := &request{
			method: http.MethodGet, what: "LIST " + string(kind),
			path: fmt.Sprintf("/v1/objects/%s/?after=%s&limit=%d", kind, url.QueryEscape(after), s.pageSize),
		}
		var p listPage
		if _, err := s.callJSON(ctx, rq, &p); err != nil {
			return err
		}
		if err := p.check(after, s.pageSize); err != nil {
			return fmt.Errorf("%s after %q: malformed answer from %s: %w", rq.what, after, s.ep, err)
		}
		for _, o := range p.Objects {
			if err := fn(store.ObjectInfo{Name: o.Name, Size: o.Size}); err != nil {
				return err
			}
		}
		if p.Next == "" {
			return nil
		}
		after = p.Next
	}
}

// check refuses a page that could make List report nonsense or loop: at
// most limit valid names, strictly increasing and all after `after`, sizes
// not negative, and a next name that moves past them.
func (p *listPage) check(after string, limit int) error {
	if len(p.Objects) > limit {
		return fmt.Errorf("%d names on a page of at most %d", len(p.Objects), limit)
	}
	last := after
	for _, o := range p.Objects {
		if !store.ValidName(o.Name) || o.Name <= last || o.Size < 0 {
			return fmt.Errorf("bad entry %q (%d bytes) after %q", o.Name, o.Size, last)
		}
		last = o.Name
	}
	if p.Next != "" && (!store.ValidName(p.Next) || p.Next < last || p.Next <= after) {
		return fmt.Errorf("next page after %q does not move past %q", p.Next, last)
	}
	return nil
}

// discard drains a little of a finished response, so that its connection
// can serve again, and closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody)) // best effort: only connection reuse is at stake
	resp.Body.Close()
}

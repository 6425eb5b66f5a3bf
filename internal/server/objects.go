package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/objects"
	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store"
)

// appendable reports whether an append-only device may create objects of
// kind k (docs/api.md, Devices).
func appendable(k store.Kind) bool {
	return k == store.Packs || k == store.Index || k == store.Snapshots || k == store.Sessions
}

// contentAddressed reports whether objects of kind k must be named by the
// SHA-256 of their bytes (docs/api.md, Objects).
func contentAddressed(k store.Kind) bool { return k != store.Config && k != store.Keys }

// maxSize is the largest object of kind k.
func maxSize(k store.Kind) int64 {
	if k == store.Packs {
		return wire.MaxPackSize
	}
	return wire.MaxObjectSize
}

// expectedDigest returns the SHA-256 an upload of kind/name must have, or
// nil if its name is free.
func (s *Server) expectedDigest(k store.Kind, name string) ([]byte, error) {
	if !contentAddressed(k) || s.cfg.AnyNames {
		return nil, nil
	}
	d, err := hex.DecodeString(name)
	if err != nil || len(d) != sha256.Size {
		return nil, badRequest("a %s object is named by the SHA-256 of its bytes: 64 lower-case hex digits", k)
	}
	return d, nil
}

// putObject handles PUT /v1/objects/{kind}/{name}: checks, a quota
// reservation, then the body streamed through SHA-256 into the account's
// store, published only if complete and matching its name.
func (s *Server) putObject(c *call) error {
	want, err := s.checkUpload(c)
	if err != nil {
		return err
	}
	st, err := s.store(c.account)
	if err != nil {
		return err
	}
	if _, err := st.Stat(c.ctx(), c.kind, c.name); err == nil {
		return errExists() // early answer, before the body is read; Put re-checks atomically
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	size := c.r.ContentLength
	res, err := s.db.Reserve(c.ctx(), c.account, size, s.cfg.Quota, s.cfg.Now())
	if errors.Is(err, meta.ErrQuota) {
		return newError(http.StatusRequestEntityTooLarge, wire.CodeQuota, "the account's quota of %d bytes would be exceeded", s.cfg.Quota)
	}
	if err != nil {
		return err
	}
	bg := context.WithoutCancel(c.ctx()) // the records must be kept even if the client is gone
	if err := st.Put(objects.WithCreator(c.ctx(), c.dev.ID), c.kind, c.name, newUpload(c, want), size); err != nil {
		if rerr := s.db.Release(bg, c.account, res); rerr != nil {
			s.log.Error("releasing a quota reservation", "account", c.account, "error", rerr.Error())
		}
		return putError(err)
	}
	o := meta.Object{Kind: string(c.kind), Name: c.name, Size: size}
	if c.kind == store.Sessions {
		o.Creator = c.dev.ID
	}
	if err := s.db.Stored(bg, c.account, res, o); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusCreated)
	return nil
}

// mayWrite allows full devices to create objects of every kind, append-only
// devices those of the backup kinds (appendable), and the recovery
// principal those of kind keys: a recovering device writes its own wrapped
// key before the entry that adds it (docs/api.md, Principals).
func mayWrite(c *call) error {
	switch {
	case c.dev.Rights == meta.Full,
		c.dev.Rights == meta.AppendOnly && appendable(c.kind),
		c.dev.Rights == meta.Recovery && c.kind == store.Keys:
		return nil
	}
	return forbidden("a principal with %s rights may not write %s objects", c.dev.Rights, c.kind)
}

// checkUpload checks what can be checked of an upload before its body: the
// principal's right to the kind, the length and the name. It returns the
// digest the body must have, or nil.
func (s *Server) checkUpload(c *call) ([]byte, error) {
	if err := mayWrite(c); err != nil {
		return nil, err
	}
	if c.r.ContentLength < 0 {
		return nil, newError(http.StatusLengthRequired, wire.CodeLengthRequired, "an upload needs a Content-Length")
	}
	if limit := maxSize(c.kind); c.r.ContentLength > limit {
		return nil, newError(http.StatusRequestEntityTooLarge, wire.CodeTooLarge, "%s objects are at most %d bytes", c.kind, limit)
	}
	return s.expectedDigest(c.kind, c.name)
}

func errExists() error { return newError(http.StatusConflict, wire.CodeExists, "the object exists") }

// putError maps a failed Put to its answer.
func putError(err error) error {
	var be *bodyError
	switch {
	case errors.Is(err, store.ErrExists):
		return errExists()
	case errors.Is(err, errDigest):
		return badRequest("the body's SHA-256 is not the object's name; nothing was stored")
	case errors.As(err, &be), errors.Is(err, context.Canceled):
		return badRequest("the upload was cut short; nothing was stored")
	}
	return err
}

// errDigest is what an upload returns at its end if its bytes do not hash to
// the expected digest.
var errDigest = errors.New("the body does not hash to the object's name")

// bodyError marks a failure of the client connection (as opposed to the
// disk): the body could not be read or the response written.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "client connection: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// upload reads a request body, hashing it when a digest is expected, and
// fails at its end if the digest differs, so the store discards the temp
// file. Each read must make progress within c.progress; once the body has
// ended, the deadline is lifted so that publishing is never cut short.
type upload struct {
	c    *call
	h    hash.Hash // nil if no digest is expected
	want []byte
}

func newUpload(c *call, want []byte) *upload {
	u := &upload{c: c, want: want}
	if want != nil {
		u.h = sha256.New()
	}
	return u
}

func (u *upload) Read(p []byte) (int, error) {
	u.c.stallAfter(time.Now().Add(u.c.progress))
	n, err := u.c.body.Read(p)
	if u.h != nil {
		u.h.Write(p[:n])
	}
	switch {
	case err == io.EOF:
		u.c.stallAfter(time.Time{})
		if u.h != nil && !bytes.Equal(u.h.Sum(nil), u.want) {
			return n, errDigest
		}
	case err != nil:
		return n, &bodyError{err}
	}
	return n, err
}

// mayRead allows devices to read every object, the recovery principal
// those of kinds keys and config, and a contact the keys objects named
// "contact-<its ID>-…" (docs/api.md, Principals).
func mayRead(c *call) error {
	switch c.dev.Rights {
	case meta.Full, meta.AppendOnly:
		return nil
	case meta.Recovery:
		if c.kind == store.Keys || c.kind == store.Config {
			return nil
		}
	case meta.Contact:
		if c.kind == store.Keys && strings.HasPrefix(c.name, "contact-"+c.dev.ID+"-") {
			return nil
		}
	case meta.Web:
		if c.kind != store.Keys { // it was granted the keys it reads with
			return nil
		}
	}
	return forbidden("a principal with %s rights may not read this", c.dev.Rights)
}

// stat returns the account's store and the size of the object named by c,
// if the principal may read it.
func (s *Server) stat(c *call) (store.Store, store.ObjectInfo, error) {
	if err := mayRead(c); err != nil {
		return nil, store.ObjectInfo{}, err
	}
	st, err := s.store(c.account)
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	info, err := st.Stat(c.ctx(), c.kind, c.name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.ObjectInfo{}, notFound("no such object")
	}
	return st, info, err
}

// setObjectHeaders sets the headers of a GET or HEAD of n bytes.
func setObjectHeaders(w http.ResponseWriter, n int64) {
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	h.Set("Accept-Ranges", "bytes")
}

// headObject handles HEAD /v1/objects/{kind}/{name}.
func (s *Server) headObject(c *call) error {
	_, info, err := s.stat(c)
	if err != nil {
		return err
	}
	setObjectHeaders(c.w, info.Size)
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// getObject handles GET /v1/objects/{kind}/{name}, with an optional range.
func (s *Server) getObject(c *call) error {
	st, info, err := s.stat(c)
	if err != nil {
		return err
	}
	off, n, partial, err := parseRange(c.r.Header.Get("Range"), info.Size)
	var ae *apiError
	if errors.As(err, &ae) && ae.code == wire.CodeBadRange {
		c.w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", info.Size))
	}
	if err != nil {
		return err
	}
	rc, err := st.Get(c.ctx(), c.kind, c.name, off, n)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no such object")
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	setObjectHeaders(c.w, n)
	status := http.StatusOK
	if partial {
		c.w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, info.Size))
		status = http.StatusPartialContent
	}
	c.w.WriteHeader(status)
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	_, err = io.CopyBuffer(download{c}, rc, *buf)
	var be *bodyError
	if errors.As(err, &be) {
		return badRequest("the client stopped reading: %v", be.err) // for the log: the status is sent
	}
	return err
}

// copyBuffers holds the buffers downloads are copied through.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// download writes a response body; each write must make progress within
// c.progress.
type download struct{ c *call }

func (d download) Write(p []byte) (int, error) {
	d.c.stallAfter(time.Now().Add(d.c.progress))
	n, err := d.c.w.Write(p)
	if err != nil {
		return n, &bodyError{err}
	}
	return n, nil
}

// parseRange parses a Range header of the two forms the API allows,
// "bytes=a-b" and "bytes=a-" (decimal digits only), against an object of
// size bytes. It returns the offset and length to send and whether the
// answer is partial. A range that does not lie wholly inside the object is
// a 416; anything else malformed is a 400.
func parseRange(h string, size int64) (off, n int64, partial bool, err error) {
	if h == "" {
		return 0, size, false, nil
	}
	spec, ok := strings.CutPrefix(h, "bytes=")
	first, last, ok2 := strings.Cut(spec, "-")
	a, err := parseDigits(first)
	if !ok || !ok2 || err != nil {
		return 0, 0, false, badRequest("the Range header must be bytes=FIRST-LAST or bytes=FIRST-")
	}
	b := size - 1
	if last != "" {
		if b, err = parseDigits(last); err != nil || b < a {
			return 0, 0, false, badRequest("the Range header must be bytes=FIRST-LAST with FIRST <= LAST")
		}
	}
	if a >= size || b >= size {
		return 0, 0, false, newError(http.StatusRequestedRangeNotSatisfiable, wire.CodeBadRange, "the range is not inside the object's %d bytes", size)
	}
	return a, b - a + 1, true, nil
}

// parseDigits parses a non-negative decimal integer of 1 to 18 digits (so
// it fits an int64), with no sign, space or other character.
func parseDigits(s string) (int64, error) {
	if len(s) == 0 || len(s) > 18 || strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, errors.New("not a decimal number")
	}
	return strconv.ParseInt(s, 10, 64)
}

// deleteObject handles DELETE /v1/objects/{kind}/{name}.
func (s *Server) deleteObject(c *call) error {
	if err := s.mayDelete(c); err != nil {
		return err
	}
	st, info, err := s.stat(c)
	if err != nil {
		return err
	}
	err = st.Delete(c.ctx(), c.kind, c.name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no such object") // deleted meanwhile by another request
	}
	if err != nil {
		return err
	}
	if err := s.db.Deleted(context.WithoutCancel(c.ctx()), c.account, meta.Object{Kind: string(c.kind), Name: c.name, Size: info.Size}); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// mayDelete allows a full device to delete anything, and an append-only
// device only the sessions objects it created.
func (s *Server) mayDelete(c *call) error {
	if c.dev.Rights == meta.Full {
		return nil
	}
	deny := forbidden("an append-only device may delete only the sessions objects it created")
	if c.kind != store.Sessions {
		return deny
	}
	creator, err := s.db.Creator(c.ctx(), c.account, string(c.kind), c.name)
	if errors.Is(err, meta.ErrNotFound) {
		return deny
	}
	if err != nil {
		return err
	}
	if creator != c.dev.ID {
		return deny
	}
	return nil
}

// listObjects handles GET /v1/objects/{kind}/?after=NAME&limit=N: the
// names after NAME in byte order, at most N of them. It keeps only about
// 2N entries in memory however many objects the kind holds.
func (s *Server) listObjects(c *call) error {
	if err := mayRead(c); err != nil {
		return err
	}
	after, limit, err := listParams(c.r.URL.RawQuery)
	if err != nil {
		return err
	}
	st, err := s.store(c.account)
	if err != nil {
		return err
	}
	keep := limit + 1 // one more tells whether there is a next page
	var page []store.ObjectInfo
	err = st.List(c.ctx(), c.kind, func(o store.ObjectInfo) error {
		if o.Name > after {
			page = append(page, o)
			if len(page) >= 2*keep {
				page = smallest(page, keep)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	page = smallest(page, keep)
	resp := wire.ListResponse{Objects: make([]wire.ObjectInfo, 0, len(page))}
	if len(page) > limit {
		page = page[:limit]
		resp.Next = page[limit-1].Name
	}
	for _, o := range page {
		resp.Objects = append(resp.Objects, wire.ObjectInfo{Name: o.Name, Size: o.Size})
	}
	return writeJSON(c.w, http.StatusOK, resp)
}

// smallest sorts infos by name and keeps the first n.
func smallest(infos []store.ObjectInfo, n int) []store.ObjectInfo {
	slices.SortFunc(infos, func(a, b store.ObjectInfo) int { return strings.Compare(a.Name, b.Name) })
	return infos[:min(n, len(infos))]
}

// listParams parses the query of a listing: after (empty or a valid name)
// and limit (1 or more; larger than the maximum means the maximum).
func listParams(rawQuery string) (after string, limit int, err error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", 0, badRequest("malformed query")
	}
	after = q.Get("after")
	if after != "" && !store.ValidName(after) {
		return "", 0, badRequest("after must be an object name")
	}
	limit = wire.MaxListLimit
	if v := q.Get("limit"); v != "" {
		n, err := parseDigits(v)
		if err != nil || n < 1 {
			return "", 0, badRequest("limit must be a positive decimal number")
		}
		limit = int(min(n, wire.MaxListLimit))
	}
	return after, limit, nil
}

package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/wire"
)

// maxRefBody bounds the JSON body of a ref update: a base64 value of
// MaxRefSize bytes and a version.
const maxRefBody = wire.MaxRefSize*4/3 + 1024

// adminRefPrefix starts the names of refs only full devices may set.
const adminRefPrefix = "admin."

// getRef handles GET /v1/refs/{name}.
func (s *Server) getRef(c *call) error {
	v, version, err := s.db.Ref(c.ctx(), c.account, c.name)
	if errors.Is(err, meta.ErrNotFound) {
		return notFound("no such ref")
	}
	if err != nil {
		return err
	}
	return writeJSON(c.w, http.StatusOK, wire.Ref{Value: v, Version: version})
}

// putRef handles PUT /v1/refs/{name}: a compare-and-swap.
func (s *Server) putRef(c *call) error {
	if strings.HasPrefix(c.name, adminRefPrefix) {
		if err := needAdmin(c); err != nil {
			return err
		}
	}
	var req wire.Ref
	if err := decodeJSON(c, maxRefBody, &req); err != nil {
		return err
	}
	if len(req.Value) > wire.MaxRefSize {
		return newError(http.StatusRequestEntityTooLarge, wire.CodeTooLarge, "a ref value is at most %d bytes", wire.MaxRefSize)
	}
	if req.Version < 0 {
		return badRequest("version must not be negative")
	}
	version, err := s.db.SwapRef(c.ctx(), c.account, c.name, req.Value, req.Version, s.maxRefs)
	switch {
	case errors.Is(err, meta.ErrConflict):
		e := newError(http.StatusConflict, wire.CodeConflict, "the ref's version is %d, not %d", version, req.Version)
		e.version = &version
		return e
	case errors.Is(err, meta.ErrQuota):
		return newError(http.StatusRequestEntityTooLarge, wire.CodeQuota, "an account holds at most %d refs", s.maxRefs)
	case err != nil:
		return err
	}
	return writeJSON(c.w, http.StatusOK, wire.RefVersion{Version: version})
}

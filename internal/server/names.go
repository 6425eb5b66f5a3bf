package server

import (
	"errors"
	"net/http"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/wire"
)

// registerName handles POST /v1/names: a full device gives its account a
// name, first come first served, logged as a name leaf before the answer.
func (s *Server) registerName(c *call) error {
	var req wire.NameRequest
	if err := decodeJSON(c, maxAuthBody, &req); err != nil {
		return err
	}
	if !wire.ValidAccountName(req.Name) {
		return badRequest("a name is 1 to %d bytes of a-z 0-9 . _ @ + -, starting with a letter or digit", wire.MaxAccountName)
	}
	index, err := s.db.RegisterName(c.ctx(), c.account, req.Name, wire.MaxNames, s.cfg.Now().UTC())
	switch {
	case errors.Is(err, meta.ErrExists):
		return newError(http.StatusConflict, wire.CodeExists, "the name is taken")
	case errors.Is(err, meta.ErrQuota):
		return newError(http.StatusRequestEntityTooLarge, wire.CodeQuota, "an account has at most %d names", wire.MaxNames)
	case errors.Is(err, meta.ErrNotFound):
		return newError(http.StatusBadRequest, wire.CodeBadEntry, "the account was registered without a device chain")
	case err != nil:
		return err
	}
	s.awaitLogged(c, index)
	return writeJSON(c.w, http.StatusCreated, wire.NameInfo{Account: c.account, Index: index})
}

// lookupName handles GET /v1/names/{name}.
func (s *Server) lookupName(c *call) error {
	account, index, err := s.db.Name(c.ctx(), c.name)
	if errors.Is(err, meta.ErrNotFound) {
		return notFound("no account has that name")
	}
	if err != nil {
		return err
	}
	return writeJSON(c.w, http.StatusOK, wire.NameInfo{Account: account, Index: index})
}

// awaitLogged waits until a stored checkpoint covers the log leaf at index,
// so that the client sees its change in the log as soon as it is answered.
// The change is made whatever happens: a failure is logged, not answered.
func (s *Server) awaitLogged(c *call, index uint64) {
	if err := s.pub.await(c.ctx(), index+1); err != nil {
		s.log.Error("no checkpoint covers a logged change", "index", index, "route", c.route, "error", err.Error())
	}
}

package server

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/wire"
)

// pollInterval is how often a waiting slot read looks at the database.
const pollInterval = 100 * time.Millisecond

// missRate is the sustained number of failed lookups of unguessable pairing
// ids allowed to one client address per second, with bursts of twice as
// many, when the server limits rates.
const missRate = 5

// createPairing handles POST /v1/pairings.
func (s *Server) createPairing(c *call) error {
	var req wire.PairingRequest
	if err := decodeJSON(c, maxAuthBody, &req); err != nil {
		return err
	}
	if !validID(req.ID) {
		return badRequest("a pairing id is 32 lower-case hex digits")
	}
	if req.TTL < 1 || req.TTL > wire.MaxPairingTTL {
		return badRequest("ttl must be 1 to %d seconds", wire.MaxPairingTTL)
	}
	now := s.cfg.Now().UTC()
	err := s.db.CreatePairing(c.ctx(), req.ID, c.account, now.Add(time.Duration(req.TTL)*time.Second), now, wire.MaxPairings)
	switch {
	case errors.Is(err, meta.ErrExists):
		return newError(http.StatusConflict, wire.CodeExists, "the pairing exists")
	case errors.Is(err, meta.ErrQuota):
		return newError(http.StatusRequestEntityTooLarge, wire.CodeQuota, "an account has at most %d live pairings", wire.MaxPairings)
	case err != nil:
		return err
	}
	c.w.WriteHeader(http.StatusCreated)
	return nil
}

// putPairing handles PUT /v1/pairings/{id}/{slot}. Slots 2 and 4 come
// authenticated and only from the account that created the pairing.
func (s *Server) putPairing(c *call) error {
	if err := s.checkMisses(c); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.body, wire.MaxPairingBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return newError(http.StatusRequestEntityTooLarge, wire.CodeTooLarge, "a slot holds at most %d bytes", wire.MaxPairingBody)
	case err != nil:
		return badRequest("the body was cut short")
	}
	err = s.db.PutPairing(c.ctx(), c.name, c.slot, c.account, body, s.cfg.Now())
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return s.missed(c, "no such pairing, or it has expired")
	case errors.Is(err, meta.ErrExists):
		return newError(http.StatusConflict, wire.CodeExists, "the slot was written already")
	case err != nil:
		return err
	}
	c.w.WriteHeader(http.StatusCreated)
	return nil
}

// getPairing handles GET /v1/pairings/{id}/{slot}?wait=S: it looks at the
// slot every pollInterval until it is written or S seconds have passed.
func (s *Server) getPairing(c *call) error {
	if err := s.checkMisses(c); err != nil {
		return err
	}
	wait, err := waitParam(c.r.URL.RawQuery)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(wait)
	for {
		body, written, err := s.db.PairingSlot(c.ctx(), c.name, c.slot, s.cfg.Now())
		switch {
		case errors.Is(err, meta.ErrNotFound):
			return s.missed(c, "no such pairing, or it has expired")
		case err != nil:
			return err
		case written:
			return writeBytes(c.w, body)
		case !time.Now().Before(deadline):
			c.w.WriteHeader(http.StatusNoContent)
			return nil
		}
		t := time.NewTimer(pollInterval)
		select {
		case <-c.ctx().Done():
			t.Stop()
			return badRequest("the client stopped waiting")
		case <-t.C:
		}
	}
}

// waitParam parses the query of a slot read: wait, 0 to MaxPairingWait
// whole seconds, 0 if absent.
func waitParam(rawQuery string) (time.Duration, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return 0, badRequest("malformed query")
	}
	v := q.Get("wait")
	if v == "" {
		return 0, nil
	}
	n, err := parseDigits(v)
	if err != nil || n > wire.MaxPairingWait {
		return 0, badRequest("wait must be 0 to %d seconds", wire.MaxPairingWait)
	}
	return time.Duration(n) * time.Second, nil
}

// writeBytes answers 200 with an octet-stream body.
func writeBytes(w http.ResponseWriter, b []byte) error {
	setObjectHeaders(w, int64(len(b)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	return err
}

// checkMisses refuses (429) a client address that has used up its
// allowance of failed lookups of unguessable names.
func (s *Server) checkMisses(c *call) error {
	wait := s.misses.peek(clientKey(c.client), time.Now())
	if wait == 0 {
		return nil
	}
	e := newError(http.StatusTooManyRequests, wire.CodeRateLimited, "too many failed lookups; retry later")
	e.retryAfter = retrySeconds(wait)
	return e
}

// missed spends one of the client address's failed lookups and returns
// the 404 to answer.
func (s *Server) missed(c *call, msg string) error {
	s.misses.take(clientKey(c.client), time.Now())
	return notFound("%s", msg)
}

package server

import (
	"fmt"
	"net/http"

	"github.com/coffer-backup/coffer/internal/server/metrics"
	"github.com/coffer-backup/coffer/internal/server/wire"
)

// health handles GET /healthz: 200 "ok" if the database and the object
// backend (the accounts directory, or the bucket) answer.
func (s *Server) health(c *call) error {
	err := s.db.Ping(c.ctx())
	if err == nil {
		err = s.objects.Ping(c.ctx())
	}
	if err != nil {
		return fmt.Errorf("%w: %w", newError(http.StatusServiceUnavailable, wire.CodeUnavailable, "unhealthy"), err)
	}
	c.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err = c.w.Write([]byte("ok\n"))
	return err
}

// serveMetrics handles GET /metrics.
func (s *Server) serveMetrics(c *call) error {
	usage, err := s.db.Usage(c.ctx())
	if err != nil {
		return err
	}
	accounts := make([]metrics.Account, 0, len(usage))
	for id, u := range usage {
		accounts = append(accounts, metrics.Account{ID: id, Objects: u.Objects, Bytes: u.Bytes})
	}
	c.w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	return s.metrics.Write(c.w, accounts)
}

package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/server/meta"
)

// sessionSkew is how far a browser-session entry's not-before may be
// ahead of the server's clock: the approving device's clock may be a
// little fast.
const sessionSkew = 5 * time.Minute

// webChange is what a web-access, browser-session or revoke-session entry
// does to the account's principals: a session is a Web principal from its
// entry on; revoking it, turning web access off, or removing the device
// that approved it revokes it, which drops its tokens on every instance.
func webChange(prev *devices.Chain, e *devices.Entry, at time.Time) meta.Change {
	c := meta.Change{At: at}
	switch e.Type {
	case devices.TypeWebSession:
		c.Add = []meta.Device{{ID: e.Session.ID, SignKey: e.Session.Sign, Name: "browser session", Rights: meta.Web, AddedBy: e.Signer, Added: at}}
	case devices.TypeRevokeSession:
		c.Revoke = []meta.Device{{ID: e.Session.ID, Rights: meta.Web}}
	case devices.TypeWebAccess:
		if !e.Web {
			c.Revoke = endedSessions(prev, func(devices.Session) bool { return true })
		}
	}
	return c
}

// endedSessions lists, as principals to revoke, the sessions of prev not
// yet ended that match selects.
func endedSessions(prev *devices.Chain, match func(devices.Session) bool) []meta.Device {
	var out []meta.Device
	for _, s := range prev.Sessions() {
		if s.Revoked == 0 && match(s) {
			out = append(out, meta.Device{ID: s.ID, Rights: meta.Web})
		}
	}
	return out
}

// checkSessionEntry refuses a browser-session entry on a server without
// --web, and one whose window the server's clock says is over or starts
// too late, before the chain verifies it.
func (s *Server) checkSessionEntry(e *devices.Entry) error {
	if e.Type != devices.TypeWebSession {
		return nil
	}
	if !s.cfg.Web {
		return forbidden("this server does not allow browser sessions (coffer serve --web)")
	}
	now := s.cfg.Now()
	if !e.Session.NotAfter.After(now) || e.Session.NotBefore.After(now.Add(sessionSkew)) {
		return badRequest("the browser session's window [%d, %d) does not hold the server's time %d",
			e.Session.NotBefore.Unix(), e.Session.NotAfter.Unix(), now.Unix())
	}
	return nil
}

// activeSession returns the chain's record of browser session id of
// account, refusing it unless the server allows web sessions and the
// session is active now. It reads the stored chain (verifiedChain checks
// its head in the database), so every instance agrees on it.
func (s *Server) activeSession(ctx context.Context, account, id string) (devices.Session, error) {
	if !s.cfg.Web {
		return devices.Session{}, forbidden("this server does not allow browser sessions")
	}
	chain, err := s.verifiedChain(ctx, account)
	if err != nil {
		return devices.Session{}, err
	}
	if chain == nil {
		return devices.Session{}, forbidden("no such browser session")
	}
	sess, ok := chain.Session(id)
	if !ok || !sess.Active(s.cfg.Now()) {
		return devices.Session{}, forbidden("the browser session has expired or was revoked")
	}
	return sess, nil
}

// checkWeb refuses a Web principal whose session is not active.
func (s *Server) checkWeb(ctx context.Context, account string, d meta.Device) (time.Time, error) {
	if d.Rights != meta.Web {
		return time.Time{}, nil
	}
	sess, err := s.activeSession(ctx, account, d.ID)
	return sess.NotAfter, err
}

// webApp answers the static web app at every path outside the API, the
// log and the operational endpoints, when the server was started with
// --web and given one (Config.WebApp).
func (s *Server) webApp(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Path
	if !s.cfg.Web || s.cfg.WebApp == nil || strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/log/") || p == "/healthz" || p == "/metrics" {
		return false
	}
	s.cfg.WebApp.ServeHTTP(w, r)
	return true
}

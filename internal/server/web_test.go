package server

import (
	"crypto/ed25519"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/server/wire"
)

func withWeb(c *Config) { c.Web = true }

// browser is a browser session's keys, as a principal that can log in.
func browser(seed int) (device, devices.WebSession) {
	d := newDevice(1000 + seed)
	pub := d.k.Public()
	return d, devices.WebSession{ID: d.id, Sign: pub.Sign, KEM: pub.KEM, Scope: devices.ScopeRead}
}

// sessionEntry builds the entry by which a's full device approves the
// session b from now for d.
func (e *env) sessionEntry(a *account, b device, ws devices.WebSession, d time.Duration) []byte {
	e.t.Helper()
	now := e.clock.Now()
	ws.NotBefore, ws.NotAfter = now, now.Add(d)
	p, err := a.chain.PrepareSession(devices.ByDevice(a.full.k), ws, now)
	if err != nil {
		e.t.Fatal(err)
	}
	entry, err := p.Finish(ed25519.Sign(b.key, devices.CountersignMessage(p.SignedPart())))
	if err != nil {
		e.t.Fatal(err)
	}
	return entry
}

// webAccount is a new account with web access on and one approved
// session, logged in.
func (e *env) webAccount(n int) (*account, device, string) {
	e.t.Helper()
	a := e.newAccount(n)
	on, err := a.chain.SetWebAccess(devices.ByDevice(a.full.k), true, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	e.appendEntry(a, a.token, on).want(e.t, "web access on", 201, "")
	b, ws := browser(n)
	e.appendEntry(a, a.token, e.sessionEntry(a, b, ws, time.Hour)).want(e.t, "session", 201, "")
	return a, b, e.login(a.id, b)
}

// TestWebSessionReadsOnly: a session reads the chain and every object but
// keys, and may do nothing else.
func TestWebSessionReadsOnly(t *testing.T) {
	e := newEnv(t, withWeb)
	a, _, tok := e.webAccount(1)
	data, name := content(1, 1000)
	e.put(a.token, "packs", data, name, 201)
	e.put(a.token, "keys", data, "wrapped", 201)
	e.do(req{method: "GET", path: "/v1/objects/packs/" + name, token: tok}).want(t, "read a pack", 200, "")
	e.do(req{method: "GET", path: "/v1/objects/packs/", token: tok}).want(t, "list packs", 200, "")
	e.do(req{method: "GET", path: "/v1/chain", token: tok}).want(t, "read the chain", 200, "")
	other, otherName := content(2, 100)
	for _, q := range []struct {
		what string
		req  req
	}{
		{"read keys", req{method: "GET", path: "/v1/objects/keys/wrapped"}},
		{"list keys", req{method: "GET", path: "/v1/objects/keys/"}},
		{"write", req{method: "PUT", path: "/v1/objects/packs/" + otherName, body: other}},
		{"delete", req{method: "DELETE", path: "/v1/objects/packs/" + name}},
		{"append to the chain", req{method: "POST", path: "/v1/chain", body: wire.ChainAppend{Seq: a.chain.Len(), Entry: a.addDevice(t, newDevice(99))}}},
		{"open a pairing", req{method: "POST", path: "/v1/pairings", body: wire.PairingRequest{ID: strings.Repeat("ab", 16), TTL: 60}}},
		{"list devices", req{method: "GET", path: "/v1/devices"}},
		{"read a ref", req{method: "GET", path: "/v1/refs/lock"}},
		{"write a ref", req{method: "PUT", path: "/v1/refs/lock", body: []byte("x")}},
		{"register a name", req{method: "POST", path: "/v1/names", body: map[string]string{"name": "someone"}}},
	} {
		q.req.token = tok
		e.do(q.req).want(t, q.what, http.StatusForbidden, wire.CodeForbidden)
	}
	e.do(req{method: "GET", path: "/v1/objects/packs/" + name, token: a.token}).want(t, "the pack is still there", 200, "")
}

// TestWebSessionEnds: a session's tokens stop working at its not-after and
// when it is revoked, and it cannot log in again; both are derived from
// the stored chain, so a second server on the same data agrees.
func TestWebSessionEnds(t *testing.T) {
	e := newEnv(t, withWeb)
	a, b, tok := e.webAccount(1)
	r := e.do(req{method: "POST", path: "/v1/auth/token", body: tokenRequest(a.id, b, e.challenge(a.id, b))})
	if exp := decode[wire.TokenResponse](t, r).Expires; exp.After(e.clock.Now().Add(time.Hour)) {
		t.Errorf("a session's token expires at %v, after the session", exp)
	}
	e.clock.advance(time.Hour)
	e.do(req{method: "GET", path: "/v1/chain", token: tok}).want(t, "after not-after", http.StatusUnauthorized, "")
	e.do(req{method: "POST", path: "/v1/auth/challenge", body: wire.ChallengeRequest{Account: a.id, Device: b.id}}).want(t, "challenge after not-after", 403, wire.CodeForbidden)

	a.token = e.login(a.id, a.full) // its token expired too
	b2, ws2 := browser(2)
	e.appendEntry(a, a.token, e.sessionEntry(a, b2, ws2, 2*time.Hour)).want(t, "second session", 201, "")
	tok2 := e.login(a.id, b2)
	e.do(req{method: "GET", path: "/v1/chain", token: tok2}).want(t, "second session reads", 200, "")
	rev, err := a.chain.RevokeSession(devices.ByDevice(a.full.k), b2.id, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.appendEntry(a, a.token, rev).want(t, "revoke", 201, "")
	e.do(req{method: "GET", path: "/v1/chain", token: tok2}).want(t, "after revoke", http.StatusUnauthorized, "")
	e.do(req{method: "POST", path: "/v1/auth/challenge", body: wire.ChallengeRequest{Account: a.id, Device: b2.id}}).want(t, "challenge after revoke", 403, wire.CodeForbidden)
}

// TestWebSessionSecondInstance: a server started on the same data without
// having seen the revocation refuses the session too, and one without
// --web refuses every session.
func TestWebSessionSecondInstance(t *testing.T) {
	e := newEnv(t, withWeb)
	a, b, tok := e.webAccount(1)
	e.do(req{method: "GET", path: "/v1/chain", token: tok}).want(t, "first instance", 200, "")
	e.s.Close()
	noWeb := newEnvOn(t, e.s.cfg.Data, func(c *Config) { c.Now = e.clock.Now })
	noWeb.do(req{method: "GET", path: "/v1/chain", token: tok}).want(t, "without --web", 403, wire.CodeForbidden)
	noWeb.s.Close()
	again := newEnvOn(t, e.s.cfg.Data, withWeb, func(c *Config) { c.Now = e.clock.Now })
	again.do(req{method: "GET", path: "/v1/chain", token: tok}).want(t, "second instance", 200, "")
	rev, err := a.chain.RevokeSession(devices.ByDevice(a.full.k), b.id, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	again.appendEntry(a, a.token, rev).want(t, "revoke", 201, "")
	again.do(req{method: "GET", path: "/v1/chain", token: tok}).want(t, "after revoke", 401, "")
}

// newEnvOn makes a server on an existing data directory.
func newEnvOn(t *testing.T, data string, mods ...func(*Config)) *env {
	t.Helper()
	return newEnv(t, append([]func(*Config){func(c *Config) { c.Data = data }}, mods...)...)
}

// TestWebSessionEntryRefused: a server without --web takes no session
// entry, nor one whose window is over or far ahead; web access itself and
// revocations it takes.
func TestWebSessionEntryRefused(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(1)
	on, err := a.chain.SetWebAccess(devices.ByDevice(a.full.k), true, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.appendEntry(a, a.token, on).want(t, "web access on", 201, "")
	b, ws := browser(1)
	e.appendEntry(a, a.token, e.sessionEntry(a, b, ws, time.Hour)).want(t, "session without --web", 403, wire.CodeForbidden)

	w := newEnv(t, withWeb)
	a2 := w.newAccount(2)
	on, _ = a2.chain.SetWebAccess(devices.ByDevice(a2.full.k), true, w.clock.Now())
	w.appendEntry(a2, a2.token, on).want(t, "web access on", 201, "")
	w.clock.advance(-2 * time.Hour)
	past := w.sessionEntry(a2, b, ws, time.Hour)
	w.clock.advance(2 * time.Hour)
	w.appendEntry(a2, a2.token, past).want(t, "a session already over", 400, wire.CodeBadRequest)
	w.clock.advance(time.Hour)
	future := w.sessionEntry(a2, b, ws, time.Hour)
	w.clock.advance(-time.Hour)
	w.appendEntry(a2, a2.token, future).want(t, "a session an hour ahead", 400, wire.CodeBadRequest)
	w.appendEntry(a2, a2.aoToken, w.sessionEntry(a2, b, ws, time.Hour)).want(t, "sent by an append-only device", 403, "")
}

// TestWebApp: with --web and a web app, paths outside the API are the
// app's; without --web they are not.
func TestWebApp(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("app " + r.URL.Path)) })
	e := newEnv(t, withWeb, func(c *Config) { c.WebApp = app })
	if r := e.do(req{method: "GET", path: "/"}); r.status != 200 || string(r.body) != "app /" {
		t.Errorf("/: %d %s", r.status, r.body)
	}
	e.do(req{method: "GET", path: "/v1/nothing"}).want(t, "API path", 404, wire.CodeNotFound)
	off := newEnv(t, func(c *Config) { c.WebApp = app })
	off.do(req{method: "GET", path: "/"}).want(t, "without --web", 404, wire.CodeNotFound)
}

// TestWebSessionEndedByChain: turning web access off, and removing the
// device that approved a session, revoke the session's principal in the
// same transaction: its token stops working at once.
func TestWebSessionEndedByChain(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(e *env, a *account, other device, otherTok string) (string, []byte)
	}{
		{"web access off", func(e *env, a *account, _ device, _ string) (string, []byte) {
			b, err := a.chain.SetWebAccess(devices.ByDevice(a.full.k), false, e.clock.Now())
			if err != nil {
				e.t.Fatal(err)
			}
			return a.token, b
		}},
		{"approver removed", func(e *env, a *account, other device, otherTok string) (string, []byte) {
			b, err := a.chain.RemoveDevice(devices.ByDevice(other.k), a.full.id, commitOf(9), e.clock.Now())
			if err != nil {
				e.t.Fatal(err)
			}
			return otherTok, b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, withWeb)
			a, b, tok := e.webAccount(1)
			other := newDevice(50)
			e.appendEntry(a, a.token, a.addDevice(t, other)).want(t, "add a second full device", 201, "")
			otherTok := e.login(a.id, other)
			e.do(req{method: "GET", path: "/v1/chain", token: tok}).want(t, "before", 200, "")
			by, entry := tc.end(e, a, other, otherTok)
			e.appendEntry(a, by, entry).want(t, tc.name, 201, "")
			e.do(req{method: "GET", path: "/v1/chain", token: tok}).want(t, "after", http.StatusUnauthorized, "")
			e.do(req{method: "POST", path: "/v1/auth/challenge", body: wire.ChallengeRequest{Account: a.id, Device: b.id}}).want(t, "challenge after", 403, wire.CodeForbidden)
		})
	}
}

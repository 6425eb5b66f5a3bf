package server

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/server/wire"
)

// TestRoutes checks what every path and method resolves to before any
// handler runs: unknown paths, malformed parameters, wrong methods and
// missing tokens.
func TestRoutes(t *testing.T) {
	e := newEnv(t)
	pack := strings.Repeat("ab", 32)
	tests := []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/", 404, "not_found"},
		{"GET", "/v2/objects/packs/", 404, "not_found"},
		{"GET", "/v1/", 404, "not_found"},
		{"GET", "/v1/accounts", 405, "method_not_allowed"},
		{"GET", "/v1/auth/challenge", 405, "method_not_allowed"},
		{"PUT", "/v1/auth/token", 405, "method_not_allowed"},
		{"GET", "/v1/auth/other", 404, "not_found"},
		{"POST", "/healthz", 405, "method_not_allowed"},
		{"GET", "/healthz/", 404, "not_found"},
		{"GET", "/v1/objects/bogus/", 400, "bad_request"},
		{"GET", "/v1/objects/Packs/", 400, "bad_request"},
		{"GET", "/v1/objects/tmp/x", 400, "bad_request"},
		{"GET", "/v1/objects/packs/..", 400, "bad_request"},
		{"GET", "/v1/objects/packs/.x", 400, "bad_request"},
		{"GET", "/v1/objects/packs/ABC", 400, "bad_request"},
		{"GET", "/v1/objects/packs/a%2Fb", 400, "bad_request"},
		{"GET", "/v1/objects/packs/" + strings.Repeat("a", 129), 400, "bad_request"},
		{"GET", "/v1/objects/packs/a/b", 404, "not_found"},
		{"GET", "/v1/objects/packs//", 404, "not_found"},
		{"POST", "/v1/objects/packs/" + pack, 405, "method_not_allowed"},
		{"PUT", "/v1/objects/packs/", 405, "method_not_allowed"},
		{"DELETE", "/v1/devices", 405, "method_not_allowed"},
		{"POST", "/v1/devices", 405, "method_not_allowed"},
		{"DELETE", "/v1/devices/" + strings.Repeat("a", 32), 404, "not_found"},
		{"PUT", "/v1/chain", 405, "method_not_allowed"},
		{"GET", "/v1/chain/0", 404, "not_found"},
		{"GET", "/v1/accounts/xyz/chain", 400, "bad_request"},
		{"GET", "/v1/accounts/" + strings.Repeat("A", 32) + "/chain", 400, "bad_request"},
		{"POST", "/v1/accounts/" + strings.Repeat("a", 32) + "/chain", 405, "method_not_allowed"},
		{"GET", "/v1/accounts/" + strings.Repeat("a", 32) + "/other", 404, "not_found"},
		// The public recovery read is gone.
		{"GET", "/v1/accounts/" + strings.Repeat("a", 32) + "/recovery/contacts-" + strings.Repeat("a", 32), 404, "not_found"},
		{"GET", "/v1/names", 405, "method_not_allowed"},
		{"POST", "/v1/names/alice", 405, "method_not_allowed"},
		{"GET", "/v1/names/Alice", 400, "bad_request"},
		{"GET", "/v1/names/.alice", 400, "bad_request"},
		{"GET", "/v1/names/al%40ice", 400, "bad_request"},
		{"GET", "/v1/names/" + strings.Repeat("a", 65), 400, "bad_request"},
		{"GET", "/v1/names/alice/x", 404, "not_found"},
		{"GET", "/log/", 404, "not_found"},
		{"GET", "/log/tile/0/000.p/0", 404, "not_found"},
		{"GET", "/log/tile/0/0", 404, "not_found"},
		{"GET", "/log/tile/entries/x000/001", 404, "not_found"},
		{"GET", "/log/tile/64/000", 404, "not_found"},
		{"GET", "/log/tile/0/000", 404, "not_found"}, // beyond the tree
		{"PUT", "/log/checkpoint", 405, "method_not_allowed"},
		{"POST", "/log/tile/0/000", 405, "method_not_allowed"},
		{"GET", "/v1/pairings", 405, "method_not_allowed"},
		{"GET", "/v1/pairings/" + strings.Repeat("a", 32), 404, "not_found"},
		{"GET", "/v1/pairings/xyz/1", 400, "bad_request"},
		{"GET", "/v1/pairings/" + strings.Repeat("a", 32) + "/0", 400, "bad_request"},
		{"GET", "/v1/pairings/" + strings.Repeat("a", 32) + "/5", 400, "bad_request"},
		{"GET", "/v1/pairings/" + strings.Repeat("a", 32) + "/11", 400, "bad_request"},
		{"POST", "/v1/pairings/" + strings.Repeat("a", 32) + "/1", 405, "method_not_allowed"},
		{"GET", "/v1/refs/", 400, "bad_request"},
		{"GET", "/v1/refs/a/b", 404, "not_found"},
		// Valid paths without a token.
		{"GET", "/v1/objects/packs/", 401, "unauthenticated"},
		{"GET", "/v1/objects/packs", 401, "unauthenticated"},
		{"GET", "/v1/objects/packs/" + pack, 401, "unauthenticated"},
		{"HEAD", "/v1/objects/keys/device-x", 401, ""},
		{"PUT", "/v1/objects/config/config", 401, "unauthenticated"},
		{"DELETE", "/v1/objects/index/" + pack, 401, "unauthenticated"},
		{"GET", "/v1/refs/head", 401, "unauthenticated"},
		{"PUT", "/v1/refs/head", 401, "unauthenticated"},
		{"GET", "/v1/devices", 401, "unauthenticated"},
		{"GET", "/v1/chain", 401, "unauthenticated"},
		{"POST", "/v1/chain", 401, "unauthenticated"},
		{"GET", "/v1/accounts/" + strings.Repeat("a", 32) + "/chain", 401, "unauthenticated"},
		{"POST", "/v1/names", 401, "unauthenticated"},
		{"GET", "/v1/names/alice@example.org", 401, "unauthenticated"},
		{"POST", "/v1/pairings", 401, "unauthenticated"},
		{"PUT", "/v1/pairings/" + strings.Repeat("a", 32) + "/2", 401, "unauthenticated"},
		{"PUT", "/v1/pairings/" + strings.Repeat("a", 32) + "/4", 401, "unauthenticated"},
		// Valid paths that need no token.
		{"PUT", "/v1/pairings/" + strings.Repeat("a", 32) + "/1", 404, "not_found"},
		{"PUT", "/v1/pairings/" + strings.Repeat("a", 32) + "/3", 404, "not_found"},
		{"GET", "/v1/pairings/" + strings.Repeat("a", 32) + "/2", 404, "not_found"},
		{"GET", "/log/checkpoint", 200, ""},
		{"GET", "/log/vkey", 200, ""},
	}
	for _, tc := range tests {
		r := e.do(req{method: tc.method, path: tc.path})
		r.want(t, tc.method+" "+tc.path, tc.status, tc.code)
		if tc.status == 405 && r.header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tc.method, tc.path)
		}
	}
	// Malformed and unknown tokens.
	for _, tok := range []string{"", "x", strings.Repeat("A", 43), strings.Repeat("A", 44), "Bearer", strings.Repeat("!", 43)} {
		e.do(req{method: "GET", path: "/v1/devices", header: map[string]string{"Authorization": "Bearer " + tok}}).
			want(t, "token "+tok, 401, "unauthenticated")
	}
	e.do(req{method: "GET", path: "/v1/devices", header: map[string]string{"Authorization": "Basic abc"}}).want(t, "basic auth", 401, "unauthenticated")
}

// TestRegister covers account registration and its refusals.
func TestRegister(t *testing.T) {
	e := newEnv(t)
	d, other := newDevice(1), newDevice(2)
	rk := recoveryKey(t)
	acct := accountID(1)
	g := genesis(t, acct, d, rk)
	body := func(account string, genesis []byte) wire.RegisterRequest {
		return wire.RegisterRequest{Account: account, Genesis: genesis}
	}
	tampered := bytes.Clone(g)
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"not JSON", "{", 400, "bad_request"},
		{"empty", "", 400, "bad_request"},
		{"two values", `{"account":"a"} {}`, 400, "bad_request"},
		{"unknown field", `{"account":"a","extra":1}`, 400, "bad_request"},
		{"the old form", `{"account":"` + acct + `","device":{"sign_key":"AA==","name":"x"},"signature":""}`, 400, "bad_request"},
		{"wrong type", `{"account":5}`, 400, "bad_request"},
		{"bad base64", `{"account":"` + acct + `","genesis":"!!"}`, 400, "bad_request"},
		{"too big", `{"account":"` + strings.Repeat(" ", 50<<10) + `"}`, 413, "too_large"},
		{"short account", body("abc", g), 400, "bad_request"},
		{"upper-case account", body(strings.ToUpper(acct), g), 400, "bad_request"},
		{"no genesis", body(acct, nil), 400, "bad_entry"},
		{"cut short", body(acct, g[:len(g)-1]), 400, "bad_entry"},
		{"bad signature", body(acct, tampered), 400, "bad_entry"},
		{"genesis of another account", body(accountID(2), g), 400, "bad_entry"},
		{"good", body(acct, g), 201, ""},
		{"again", body(acct, g), 409, "exists"},
		{"another genesis", body(acct, genesis(t, acct, other, rk)), 409, "exists"},
	}
	for _, tc := range tests {
		r := e.do(req{method: "POST", path: "/v1/accounts", body: tc.body})
		r.want(t, tc.name, tc.status, tc.code)
		if tc.code == "bad_entry" && !strings.Contains(decode[wire.Error](t, r).Error, "device chain entry") {
			t.Errorf("%s: the error does not give the verifier's reason: %s", tc.name, r.body)
		}
	}
	r := e.register(accountID(3), d, rk)
	r.want(t, "same device, another account", 201, "")
	if got := decode[wire.RegisterResponse](t, r); got.Account != accountID(3) || got.Device != d.id {
		t.Errorf("registration answered %+v", got)
	}
	// The genesis is entry 0 of the chain; the recovery key can log in.
	tok := e.login(acct, d)
	page := decode[wire.ChainPage](t, e.do(req{method: "GET", path: "/v1/chain", token: tok}))
	if len(page.Entries) != 1 || !bytes.Equal(page.Entries[0], g) {
		t.Errorf("chain after registration: %d entries", len(page.Entries))
	}
	e.login(acct, principalOf(rk))
	devs := decode[wire.DevicesResponse](t, e.do(req{method: "GET", path: "/v1/devices", token: tok}))
	if len(devs.Devices) != 1 || devs.Devices[0].Device != d.id || devs.Devices[0].AddedBy != "" || devs.Devices[0].Rights != "full" ||
		devs.Devices[0].Name != d.k.Name {
		t.Errorf("devices after registration: %+v", devs.Devices)
	}
}

// TestRegistrationToken checks --registration-token-file.
func TestRegistrationToken(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RegistrationToken = "s3cret" })
	body := wire.RegisterRequest{Account: accountID(1), Genesis: genesis(t, accountID(1), newDevice(1), recoveryKey(t))}
	for _, tc := range []struct {
		header string
		status int
	}{
		{"", 403}, {"s3cre", 403}, {"s3cret2", 403}, {"S3cret", 403}, {"s3cret", 201},
	} {
		e.do(req{method: "POST", path: "/v1/accounts", body: body, header: map[string]string{wire.RegistrationHeader: tc.header}}).
			want(t, "token "+tc.header, tc.status, "")
	}
}

// TestAuth covers challenges and tokens: replay, expiry, bad signatures and
// unknown devices.
func TestAuth(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(1)
	stranger := newDevice(99)
	post := func(path string, body any) resp { return e.do(req{method: "POST", path: path, body: body}) }

	post("/v1/auth/challenge", wire.ChallengeRequest{Account: a.id, Device: stranger.id}).want(t, "unknown device", 404, "not_found")
	post("/v1/auth/challenge", wire.ChallengeRequest{Account: accountID(9), Device: a.full.id}).want(t, "unknown account", 404, "not_found")
	post("/v1/auth/challenge", wire.ChallengeRequest{Account: a.id, Device: "x"}).want(t, "malformed device", 400, "bad_request")

	r := post("/v1/auth/challenge", wire.ChallengeRequest{Account: a.id, Device: a.full.id})
	ch := decode[wire.ChallengeResponse](t, r)
	if len(ch.Challenge) != 32 || !ch.Expires.Equal(e.clock.Now().Add(time.Minute)) {
		t.Errorf("challenge %+v", ch)
	}
	good := tokenRequest(a.id, a.full, ch.Challenge)
	for _, tc := range []struct {
		name   string
		mod    func(*wire.TokenRequest)
		status int
		code   string
	}{
		{"signed by another key", func(q *wire.TokenRequest) {
			q.Signature = ed25519.Sign(stranger.key, wire.AuthMessage(a.id, a.full.id, ch.Challenge))
		}, 401, "unauthenticated"},
		{"signature over another challenge", func(q *wire.TokenRequest) {
			q.Signature = tokenRequest(a.id, a.full, make([]byte, 32)).Signature
		}, 401, "unauthenticated"},
		{"challenge issued to another device", func(q *wire.TokenRequest) { *q = tokenRequest(a.id, a.appendOnly, ch.Challenge) }, 401, "unauthenticated"},
		{"unknown challenge", func(q *wire.TokenRequest) { *q = tokenRequest(a.id, a.full, make([]byte, 32)) }, 401, "unauthenticated"},
		{"short challenge", func(q *wire.TokenRequest) { q.Challenge = q.Challenge[:31] }, 400, "bad_request"},
		{"short signature", func(q *wire.TokenRequest) { q.Signature = q.Signature[:10] }, 400, "bad_request"},
		{"unknown device", func(q *wire.TokenRequest) { q.Device = stranger.id }, 404, "not_found"},
		// None of the above consumed the challenge.
		{"good", func(*wire.TokenRequest) {}, 200, ""},
		{"replayed", func(*wire.TokenRequest) {}, 401, "unauthenticated"},
	} {
		q := good
		tc.mod(&q)
		r := post("/v1/auth/token", q)
		r.want(t, tc.name, tc.status, tc.code)
		if tc.status != 200 {
			continue
		}
		tok := decode[wire.TokenResponse](t, r)
		if len(tok.Token) != 43 || !tok.Expires.Equal(e.clock.Now().Add(15*time.Minute)) {
			t.Errorf("token %+v", tok)
		}
		e.do(req{method: "GET", path: "/v1/devices", token: tok.Token}).want(t, "new token", 200, "")
	}

	// An expired challenge is refused.
	ch2 := e.challenge(a.id, a.full)
	e.clock.advance(61 * time.Second)
	post("/v1/auth/token", tokenRequest(a.id, a.full, ch2)).want(t, "expired challenge", 401, "unauthenticated")

	// A token works for 15 minutes and not after.
	tok := e.login(a.id, a.full)
	e.clock.advance(15*time.Minute - time.Second)
	e.do(req{method: "GET", path: "/v1/devices", token: tok}).want(t, "token before expiry", 200, "")
	e.clock.advance(time.Second)
	e.do(req{method: "GET", path: "/v1/devices", token: tok}).want(t, "expired token", 401, "unauthenticated")
}

// TestRevoked checks that removing a device from the chain stops its
// tokens at once and its challenges from then on.
func TestRevoked(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(1)
	ch := e.challenge(a.id, a.appendOnly)
	e.do(req{method: "GET", path: "/v1/objects/packs/", token: a.aoToken}).want(t, "before", 200, "")
	e.appendEntry(a, a.token, a.removeDevice(t, a.appendOnly)).want(t, "remove", 201, "")
	e.do(req{method: "GET", path: "/v1/objects/packs/", token: a.aoToken}).want(t, "old token", 401, "unauthenticated")
	e.do(req{method: "POST", path: "/v1/auth/token", body: tokenRequest(a.id, a.appendOnly, ch)}).want(t, "pending challenge", 403, "forbidden")
	e.do(req{method: "POST", path: "/v1/auth/challenge", body: wire.ChallengeRequest{Account: a.id, Device: a.appendOnly.id}}).
		want(t, "new challenge", 403, "forbidden")
	list := decode[wire.DevicesResponse](t, e.do(req{method: "GET", path: "/v1/devices", token: a.token}))
	if len(list.Devices) != 2 || list.Devices[1].Revoked == nil || !list.Devices[1].Revoked.Equal(e.clock.Now()) {
		t.Errorf("devices %+v", list.Devices)
	}
}

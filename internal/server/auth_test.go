package server

import (
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
		{"DELETE", "/v1/devices/xyz", 400, "bad_request"},
		{"DELETE", "/v1/devices/" + strings.Repeat("A", 32), 400, "bad_request"},
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
		{"POST", "/v1/devices", 401, "unauthenticated"},
		{"DELETE", "/v1/devices/" + strings.Repeat("a", 32), 401, "unauthenticated"},
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
	acct := accountID(1)
	good := func() wire.RegisterRequest {
		k, sig := d.introduce(acct)
		return wire.RegisterRequest{Account: acct, Device: k, Signature: sig}
	}
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
		{"wrong type", `{"account":5}`, 400, "bad_request"},
		{"bad base64", `{"account":"` + acct + `","device":{"sign_key":"!!","name":"x"},"signature":""}`, 400, "bad_request"},
		{"too big", `{"account":"` + strings.Repeat(" ", 20<<10) + `"}`, 413, "too_large"},
		{"short account", func() any { r := good(); r.Account = "abc"; return r }(), 400, "bad_request"},
		{"upper-case account", func() any { r := good(); r.Account = strings.ToUpper(acct); return r }(), 400, "bad_request"},
		{"short key", func() any { r := good(); r.Device.SignKey = r.Device.SignKey[:31]; return r }(), 400, "bad_request"},
		{"empty name", func() any { r := good(); r.Device.Name = ""; return r }(), 400, "bad_request"},
		{"control in name", func() any { r := good(); r.Device.Name = "a\x1bb"; return r }(), 400, "bad_request"},
		{"bidi override in name", func() any { r := good(); r.Device.Name = "a\u202eb"; return r }(), 400, "bad_request"},
		{"long name", func() any { r := good(); r.Device.Name = strings.Repeat("é", 65); return r }(), 400, "bad_request"},
		{"short signature", func() any { r := good(); r.Signature = r.Signature[:63]; return r }(), 400, "bad_request"},
		{"signature of another key", func() any {
			r := good()
			r.Signature = ed25519.Sign(other.key, wire.RegisterMessage(acct, d.id))
			return r
		}(), 401, "unauthenticated"},
		{"signature for another account", func() any {
			r := good()
			r.Signature = ed25519.Sign(d.key, wire.RegisterMessage(accountID(2), d.id))
			return r
		}(), 401, "unauthenticated"},
		{"good", good(), 201, ""},
		{"again", good(), 409, "exists"},
	}
	for _, tc := range tests {
		e.do(req{method: "POST", path: "/v1/accounts", body: tc.body}).want(t, tc.name, tc.status, tc.code)
	}
	r := e.do(req{method: "POST", path: "/v1/accounts", body: wire.RegisterRequest{Account: accountID(3), Device: good().Device,
		Signature: ed25519.Sign(d.key, wire.RegisterMessage(accountID(3), d.id))}})
	r.want(t, "same device, another account", 201, "")
	if got := decode[wire.RegisterResponse](t, r); got.Account != accountID(3) || got.Device != d.id {
		t.Errorf("registration answered %+v", got)
	}
}

// TestRegistrationToken checks --registration-token-file.
func TestRegistrationToken(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RegistrationToken = "s3cret" })
	d := newDevice(1)
	k, sig := d.introduce(accountID(1))
	body := wire.RegisterRequest{Account: accountID(1), Device: k, Signature: sig}
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

// TestRevoked checks that revoking a device stops its tokens at once and its
// challenges from then on.
func TestRevoked(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(1)
	ch := e.challenge(a.id, a.appendOnly)
	e.do(req{method: "GET", path: "/v1/objects/packs/", token: a.aoToken}).want(t, "before", 200, "")
	e.do(req{method: "DELETE", path: "/v1/devices/" + a.appendOnly.id, token: a.token}).want(t, "revoke", 204, "")
	e.do(req{method: "GET", path: "/v1/objects/packs/", token: a.aoToken}).want(t, "old token", 401, "unauthenticated")
	e.do(req{method: "POST", path: "/v1/auth/token", body: tokenRequest(a.id, a.appendOnly, ch)}).want(t, "pending challenge", 403, "forbidden")
	e.do(req{method: "POST", path: "/v1/auth/challenge", body: wire.ChallengeRequest{Account: a.id, Device: a.appendOnly.id}}).
		want(t, "new challenge", 403, "forbidden")
}

// TestDevices covers listing, adding and revoking devices.
func TestDevices(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(1)
	second := newDevice(50)
	add := func(d device, rights string, signer device) resp {
		k, _ := d.introduce(a.id)
		sig := ed25519.Sign(signer.key, wire.RegisterMessage(a.id, d.id))
		return e.do(req{method: "POST", path: "/v1/devices", token: a.token, body: wire.AddDeviceRequest{Device: k, Rights: rights, Signature: sig}})
	}
	add(second, "admin", second).want(t, "unknown rights", 400, "bad_request")
	add(second, wire.RightsFull, a.full).want(t, "signed by the adder, not the new device", 401, "unauthenticated")
	add(a.appendOnly, wire.RightsFull, a.appendOnly).want(t, "existing device", 409, "exists")
	r := add(second, wire.RightsFull, second)
	r.want(t, "add", 201, "")
	if info := decode[wire.DeviceInfo](t, r); info.Device != second.id || info.AddedBy != a.full.id || info.Rights != "full" || info.Revoked != nil {
		t.Errorf("added %+v", info)
	}
	del := func(id, tok string) resp { return e.do(req{method: "DELETE", path: "/v1/devices/" + id, token: tok}) }
	del(newDevice(77).id, a.token).want(t, "revoke unknown", 404, "not_found")
	del(a.appendOnly.id, a.token).want(t, "revoke", 204, "")
	del(a.appendOnly.id, a.token).want(t, "revoke again", 204, "")
	del(second.id, a.token).want(t, "revoke the second full device", 204, "")
	del(a.full.id, a.token).want(t, "revoke the last full device", 409, "conflict")
	add(a.appendOnly, wire.RightsFull, a.appendOnly).want(t, "re-add revoked", 409, "exists")

	list := decode[wire.DevicesResponse](t, e.do(req{method: "GET", path: "/v1/devices", token: a.token}))
	if len(list.Devices) != 3 {
		t.Fatalf("listed %d devices", len(list.Devices))
	}
	first, ao := list.Devices[0], list.Devices[1]
	if first.Device != a.full.id || first.AddedBy != "" || first.Rights != "full" || first.Revoked != nil ||
		string(first.SignKey) != string(a.full.pub()) || first.Name != "device "+a.full.id[:6] || !first.Added.Equal(e.clock.Now()) {
		t.Errorf("first device %+v", first)
	}
	if ao.Device != a.appendOnly.id || ao.Rights != "append-only" || ao.Revoked == nil || !ao.Revoked.Equal(e.clock.Now()) {
		t.Errorf("append-only device %+v", ao)
	}
}

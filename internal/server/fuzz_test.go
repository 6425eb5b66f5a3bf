package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/tlog"
)

// FuzzResolve checks that no path makes the router panic, that everything
// it accepts is valid, and that an object path rebuilt from what it parsed
// parses the same.
func FuzzResolve(f *testing.F) {
	for _, p := range []string{"/healthz", "/metrics", "/v1/accounts", "/v1/auth/challenge", "/v1/auth/token", "/v1/devices",
		"/v1/chain", "/v1/accounts/00112233445566778899aabbccddeeff/chain", "/v1/pairings", "/v1/pairings/00112233445566778899aabbccddeeff/3",
		"/v1/names", "/v1/names/alice@example.org", "/log/checkpoint", "/log/vkey", "/log/tile/0/x001/234.p/5", "/log/tile/entries/000",
		"/log/tile/63/x009/223/372/036/854/775/807", "/v1/objects/packs/", "/v1/objects/index", "/v1/objects/packs/" + strings.Repeat("ab", 32),
		"/v1/objects/keys/device-x", "/v1/refs/head", "/v1/refs/admin.x", "/v1/objects/../x", "/v1//", "/v1/objects/packs/a%2Fb"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		tg, err := resolve(path)
		if err != nil {
			if asAPIError(err).status >= 500 {
				t.Fatalf("%q: %v", path, err)
			}
			return
		}
		if len(tg.methods) == 0 || tg.kind != "" && !tg.kind.Valid() || !validTargetName(path, tg) {
			t.Fatalf("%q resolved to an invalid target %+v", path, tg)
		}
		if tg.kind != "" && tg.name != "" {
			again, err := resolve("/v1/objects/" + string(tg.kind) + "/" + tg.name)
			if err != nil || again.kind != tg.kind || again.name != tg.name {
				t.Fatalf("%q: rebuilt path resolves to %+v, %v", path, again, err)
			}
		}
	})
}

// validTargetName reports whether what the router took for a name is valid
// for its route: an account name, a log path that parses to the target's
// tile, or an object, ref or pairing name.
func validTargetName(path string, tg target) bool {
	switch {
	case tg.methods[http.MethodGet] == routeNameLookup:
		return wire.ValidAccountName(tg.name)
	case strings.HasPrefix(path, "/log/"):
		if tg.name == "checkpoint" || tg.name == "vkey" {
			return path == "/log/"+tg.name
		}
		tile, err := tlog.ParseTilePath(tg.name)
		return err == nil && tile == tg.tile && path == "/log/"+tg.name
	}
	return tg.name == "" || store.ValidName(tg.name)
}

// FuzzParseRange checks that no Range header makes the parser panic, that
// an accepted range lies inside the object, and that it re-encodes to a
// header parsing to the same range.
func FuzzParseRange(f *testing.F) {
	for _, h := range []string{"", "bytes=0-0", "bytes=5-", "bytes=10-19", "bytes=-5", "bytes=1-2,3-4", "bytes=99999999999999999999-"} {
		f.Add(h, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			return
		}
		off, n, partial, err := parseRange(h, size)
		if err != nil {
			if s := asAPIError(err).status; s != 400 && s != 416 {
				t.Fatalf("%q: status %d", h, s)
			}
			return
		}
		if off < 0 || n < 0 || off+n > size || partial == (h == "") || !partial && (off != 0 || n != size) {
			t.Fatalf("%q of %d bytes: offset %d length %d partial %v", h, size, off, n, partial)
		}
		if !partial {
			return
		}
		off2, n2, _, err := parseRange(fmt.Sprintf("bytes=%d-%d", off, off+n-1), size)
		if err != nil || off2 != off || n2 != n {
			t.Fatalf("%q re-encoded: %d+%d, %v; want %d+%d", h, off2, n2, err, off, n)
		}
	})
}

// FuzzRequests sends arbitrary requests, with and without a valid token, to
// a real server: none may cause a panic or a 5xx, and every error has a
// well-formed JSON body.
func FuzzRequests(f *testing.F) {
	e := newEnv(f)
	a := e.newAccount(1)
	g := genesis(f, accountID(2), newDevice(5), recoveryKey(f))
	seed := func(method int, path string, body any, rng string, auth bool) {
		b, ok := body.(string)
		if !ok {
			j, err := json.Marshal(body)
			if err != nil {
				f.Fatal(err)
			}
			b = string(j)
		}
		f.Add(uint8(method), path, []byte(b), rng, auth)
	}
	pack, packName := content(1, 100)
	seed(2, "/v1/accounts", wire.RegisterRequest{Account: accountID(2), Genesis: g}, "", false)
	seed(2, "/v1/auth/challenge", wire.ChallengeRequest{Account: a.id, Device: a.full.id}, "", false)
	seed(2, "/v1/auth/token", tokenRequest(a.id, a.full, make([]byte, 32)), "", false)
	seed(0, "/v1/devices", "", "", true)
	seed(0, "/v1/chain?from=1", "", "", true)
	seed(2, "/v1/chain", wire.ChainAppend{Seq: 2, Entry: a.removeDevice(f, a.appendOnly)}, "", true)
	seed(0, "/v1/accounts/"+a.id+"/chain", "", "", true)
	seed(2, "/v1/pairings", wire.PairingRequest{ID: accountID(7), TTL: 60}, "", true)
	seed(1, "/v1/pairings/"+accountID(7)+"/1", "sealed", "", false)
	seed(1, "/v1/pairings/"+accountID(7)+"/2", "sealed", "", true)
	seed(0, "/v1/pairings/"+accountID(7)+"/2", "", "", false)
	seed(1, "/v1/objects/packs/"+packName, string(pack), "", true)
	seed(0, "/v1/objects/packs/"+packName, "", "bytes=1-5", true)
	seed(4, "/v1/objects/packs/"+packName, "", "", true)
	seed(0, "/v1/objects/packs/?after=a&limit=3", "", "", true)
	seed(1, "/v1/refs/head", wire.Ref{Value: []byte("v"), Version: 0}, "", true)
	seed(0, "/v1/refs/head", "", "", true)
	seed(0, "/metrics", "", "", false)
	seed(2, "/v1/names", wire.NameRequest{Name: "alice"}, "", true)
	seed(0, "/v1/names/alice", "", "", true)
	seed(0, "/log/checkpoint", "", "", false)
	seed(0, "/log/tile/0/000.p/2", "", "", false)
	seed(0, "/log/tile/entries/000.p/2", "", "", false)
	methods := []string{"GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"}
	h := e.s.Handler()
	f.Fuzz(func(t *testing.T, method uint8, path string, body []byte, rng string, auth bool) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		r, err := http.NewRequest(methods[int(method)%len(methods)], "http://coffer"+path, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		r.RemoteAddr = "192.0.2.1:1234"
		if rng != "" {
			r.Header.Set("Range", rng)
		}
		if auth {
			r.Header.Set("Authorization", "Bearer "+a.token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s: %d %s", r.Method, path, w.Code, w.Body)
		}
		if w.Code >= 400 && r.Method != "HEAD" {
			var e wire.Error
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == "" || e.Error == "" {
				t.Fatalf("%s %s: error body %q", r.Method, path, w.Body)
			}
		}
	})
}

// FuzzLogKey checks that no key file makes the parser panic, and that a
// key it accepts has a verifier key of the same name and key ID that
// verifies its signatures.
func FuzzLogKey(f *testing.F) {
	skey, _, err := tlog.GenerateLogKey("log.example/fuzz")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{skey, skey + "\n", skey[:len(skey)-4], "PRIVATE+KEY+a+00000000+AQ==", "PRIVATE+KEY+a+b+c+d", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := parseLogKey(s)
		if err != nil {
			return
		}
		v, err := tlog.NewLogVerifier(k.vkey)
		if err != nil || v.Name() != k.signer.Name() || v.KeyHash() != k.signer.KeyHash() {
			t.Fatalf("%q: verifier key %q: %v", s, k.vkey, err)
		}
		sig, err := k.signer.Sign([]byte("m"))
		if err != nil || !v.Verify([]byte("m"), sig) {
			t.Fatalf("%q: the verifier key does not verify the key's signature", s)
		}
	})
}

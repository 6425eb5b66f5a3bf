package server

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/server/wire"
)

// TestPairing covers the pairing mailbox: creation and its limits, who may
// write which slot, write-once slots, waiting reads and expiry.
func TestPairing(t *testing.T) {
	e := newEnv(t)
	a, b := e.newAccount(1), e.newAccount(2)
	id := accountID(100)
	create := func(tok string, p wire.PairingRequest) resp {
		return e.do(req{method: "POST", path: "/v1/pairings", token: tok, body: p})
	}
	slot := func(n int) string { return fmt.Sprintf("/v1/pairings/%s/%d", id, n) }
	for _, tc := range []struct {
		name   string
		p      wire.PairingRequest
		status int
		code   string
	}{
		{"bad id", wire.PairingRequest{ID: "ABC", TTL: 60}, 400, "bad_request"},
		{"no ttl", wire.PairingRequest{ID: id}, 400, "bad_request"},
		{"long ttl", wire.PairingRequest{ID: id, TTL: 3601}, 400, "bad_request"},
		{"good", wire.PairingRequest{ID: id, TTL: 60}, 201, ""},
		{"again", wire.PairingRequest{ID: id, TTL: 60}, 409, "exists"},
	} {
		create(a.token, tc.p).want(t, tc.name, tc.status, tc.code)
	}
	create(b.token, wire.PairingRequest{ID: id, TTL: 60}).want(t, "same id, other account", 409, "exists")

	put := func(n int, tok string, body []byte) resp {
		return e.do(req{method: "PUT", path: slot(n), token: tok, body: body})
	}
	put(1, "", []byte("new device's record")).want(t, "slot 1", 201, "")
	put(1, "", []byte("again")).want(t, "slot 1 again", 409, "exists")
	put(2, "", []byte("x")).want(t, "slot 2 anonymous", 401, "unauthenticated")
	put(2, b.token, []byte("x")).want(t, "slot 2 by another account", 404, "not_found")
	put(2, a.aoToken, []byte("chain")).want(t, "slot 2 by the account", 201, "")
	put(3, "", make([]byte, wire.MaxPairingBody+1)).want(t, "too big", 413, "too_large")

	get := func(n int, wait string) resp { return e.do(req{method: "GET", path: slot(n) + wait}) }
	if r := get(1, ""); r.status != 200 || string(r.body) != "new device's record" || r.header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("slot 1: %d %q", r.status, r.body)
	}
	if r := get(2, "?wait=0"); r.status != 200 || string(r.body) != "chain" {
		t.Errorf("slot 2: %d %q", r.status, r.body)
	}
	start := time.Now()
	get(3, "?wait=1").want(t, "empty slot", 204, "")
	if d := time.Since(start); d < time.Second || d > 3*time.Second {
		t.Errorf("a 1-second wait took %v", d)
	}
	for _, w := range []string{"?wait=31", "?wait=-1", "?wait=x"} {
		get(3, w).want(t, w, 400, "bad_request")
	}
	// A waiting read answers as soon as the slot is written.
	done := make(chan resp)
	go func() { done <- get(3, "?wait=10") }()
	time.Sleep(300 * time.Millisecond)
	put(3, "", nil).want(t, "empty slot 3", 201, "")
	select {
	case r := <-done:
		if r.status != 200 || len(r.body) != 0 {
			t.Errorf("waited read: %d %q", r.status, r.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting read did not see the write")
	}
	e.do(req{method: "GET", path: fmt.Sprintf("/v1/pairings/%s/1", accountID(101))}).want(t, "unknown", 404, "not_found")

	// Expiry: gone for reads and writes, and no longer counted.
	e.clock.advance(time.Minute)
	get(1, "").want(t, "expired", 404, "not_found")
	put(4, a.token, []byte("done")).want(t, "write after expiry", 404, "not_found")
	for i := range wire.MaxPairings {
		create(a.token, wire.PairingRequest{ID: accountID(200 + i), TTL: 60}).want(t, fmt.Sprint("pairing ", i), 201, "")
	}
	create(a.token, wire.PairingRequest{ID: accountID(300), TTL: 60}).want(t, "one too many", 413, "quota")
	create(b.token, wire.PairingRequest{ID: accountID(300), TTL: 60}).want(t, "another account's", 201, "")
}

// TestMissLimit checks that failed lookups of pairings are limited per
// client address, and that hits spend nothing.
func TestMissLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Rate = 1000 })
	a := e.newAccount(1)
	id := accountID(100)
	e.do(req{method: "POST", path: "/v1/pairings", token: a.token, body: wire.PairingRequest{ID: id, TTL: 60}}).want(t, "create", 201, "")
	for range 5 {
		e.do(req{method: "GET", path: "/v1/pairings/" + id + "/1"}).want(t, "hit", 204, "")
	}
	misses := []req{{method: "GET", path: "/v1/pairings/" + accountID(1) + "/1"}, {method: "PUT", path: "/v1/pairings/" + accountID(2) + "/3", body: "x"}}
	n := 0
	for ; n < 100; n++ {
		r := e.do(misses[n%2])
		if r.status == http.StatusTooManyRequests {
			break
		}
		r.want(t, "miss", 404, "not_found")
	}
	if n != 2*missRate {
		t.Errorf("%d misses before the limit, want %d", n, 2*missRate)
	}
	e.do(req{method: "GET", path: "/v1/pairings/" + id + "/1"}).want(t, "hit after the limit", 429, "rate_limited")
	e.from("127.0.0.2").do(req{method: "GET", path: "/v1/pairings/" + id + "/1"}).want(t, "another address", 204, "")
	if r := e.do(req{method: "GET", path: "/v1/pairings/" + id + "/1"}); r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
}

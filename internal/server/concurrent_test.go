package server

import (
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/coffer-backup/coffer/internal/server/wire"
)

// TestConcurrentWriters races 16 writers of one object and of one new ref:
// exactly one of each wins, the others get 409, and usage counts the
// object once.
func TestConcurrentWriters(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Quota = 1 << 30 })
	a := e.newAccount(1)
	data, name := content(1, 256<<10)
	var mu sync.Mutex
	statuses := map[string]map[int]int{"put": {}, "ref": {}}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			put := e.do(req{method: "PUT", path: "/v1/objects/packs/" + name, token: a.token, body: data})
			ref := e.do(req{method: "PUT", path: "/v1/refs/head", token: a.token, body: wire.Ref{Value: []byte("x")}})
			mu.Lock()
			statuses["put"][put.status]++
			statuses["ref"][ref.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if p, r := statuses["put"], statuses["ref"]; p[201] != 1 || p[409] != 15 || r[200] != 1 || r[409] != 15 {
		t.Errorf("statuses: puts %v, refs %v", p, r)
	}
	u, err := e.s.db.Usage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if u[a.id].Objects != 1 || u[a.id].Bytes != int64(len(data)) {
		t.Errorf("usage %+v", u[a.id])
	}
}

// TestTwoInstances runs two servers on one data directory, as a deployment
// behind a load balancer would: tokens, challenges, objects and refs made
// through one are seen through the other.
func TestTwoInstances(t *testing.T) {
	e1 := newEnv(t)
	s2, err := New(e1.s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	hs := httptest.NewServer(s2.Handler())
	defer hs.Close()
	e2 := *e1
	e2.url, e2.s = hs.URL, s2

	a := e1.newAccount(1)
	data, name := content(1, 1000)
	e2.put(a.token, "packs", data, name, 201) // a token issued by the first
	if r := e1.do(req{method: "GET", path: "/v1/objects/packs/" + name, token: a.token}); r.status != 200 || sha(r.body) != name {
		t.Errorf("object put through the second, read through the first: %d", r.status)
	}
	ch := e1.challenge(a.id, a.full)
	tr := tokenRequest(a.id, a.full, ch)
	e2.do(req{method: "POST", path: "/v1/auth/token", body: tr}).want(t, "challenge of the first used on the second", 200, "")
	e1.do(req{method: "POST", path: "/v1/auth/token", body: tr}).want(t, "replayed on the first", 401, "unauthenticated")
	e2.do(req{method: "PUT", path: "/v1/refs/head", token: a.token, body: wire.Ref{Value: []byte("v")}}).want(t, "ref", 200, "")
	e1.do(req{method: "PUT", path: "/v1/refs/head", token: a.token, body: wire.Ref{Value: []byte("w")}}).want(t, "stale ref", 409, "conflict")
	// Chain appends through either see the other's: each instance's
	// verified chain is checked against the database before use.
	other := newDevice(40)
	e2.appendEntry(a, a.token, a.addDevice(t, other)).want(t, "add on the second", 201, "")
	e1.appendEntry(a, a.token, a.removeDevice(t, a.appendOnly)).want(t, "remove on the first", 201, "")
	e2.do(req{method: "GET", path: "/v1/devices", token: a.aoToken}).want(t, "removed device's token on the second", 401, "unauthenticated")
	e2.appendEntry(a, a.token, a.removeDevice(t, other)).want(t, "remove on the second", 201, "")
	stale := a.addDevice(t, newDevice(41)) // built on the chain as it is
	e1.appendEntry(a, a.token, stale).want(t, "add on the first", 201, "")
	e2.do(req{method: "POST", path: "/v1/chain", token: a.token, body: wire.ChainAppend{Seq: a.chain.Len() - 1, Entry: stale}}).
		want(t, "the same entry again on the second", 409, "conflict")
}

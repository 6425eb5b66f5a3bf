package server

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store"
)

// state captures everything an account's full device can see: every object
// with its bytes, its refs and its devices.
func (e *env) state(a *account, refs ...string) string {
	e.t.Helper()
	var s []any
	for _, k := range store.Kinds {
		list := decode[wire.ListResponse](e.t, e.do(req{method: "GET", path: "/v1/objects/" + string(k) + "/", token: a.token}))
		for _, o := range list.Objects {
			r := e.do(req{method: "GET", path: "/v1/objects/" + string(k) + "/" + o.Name, token: a.token})
			s = append(s, k, o.Name, o.Size, sha(r.body))
		}
	}
	for _, name := range refs {
		s = append(s, string(e.do(req{method: "GET", path: "/v1/refs/" + name, token: a.token}).body))
	}
	s = append(s, string(e.do(req{method: "GET", path: "/v1/devices", token: a.token}).body))
	b, err := json.Marshal(s)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// populate gives an account one object of every kind, a ref and a session
// marker made by its append-only device. It returns the objects' names.
func (e *env) populate(a *account, seed uint64) map[store.Kind]string {
	e.t.Helper()
	names := map[store.Kind]string{}
	for i, k := range store.Kinds {
		b, name := content(seed*100+uint64(i), 100+i)
		tok := a.token
		switch k {
		case store.Config:
			name = "config"
		case store.Keys:
			name = "device-" + a.full.id
		case store.Sessions:
			tok = a.aoToken
		}
		e.put(tok, string(k), b, name, 201)
		names[k] = name
	}
	e.do(req{method: "PUT", path: "/v1/refs/head", token: a.token, body: wire.Ref{Value: []byte("b's head")}}).want(e.t, "ref", 200, "")
	return names
}

// TestIsolation runs account A's tokens (full and append-only) against
// every endpoint, aimed at account B's objects, refs and devices: each
// request fails or acts on A's own namespace, and B's state is unchanged.
func TestIsolation(t *testing.T) {
	e := newEnv(t)
	a, b := e.newAccount(1), e.newAccount(2)
	bNames := e.populate(b, 2)
	before := e.state(b, "head")
	bEntry := b.removeDevice(t, b.appendOnly) // an entry of B's chain, at the length A's has too
	type probe struct {
		q      req
		status int
	}
	var probes []probe
	for _, k := range store.Kinds {
		path := "/v1/objects/" + string(k) + "/" + bNames[k]
		probes = append(probes,
			probe{req{method: "GET", path: path}, 404},
			probe{req{method: "HEAD", path: path}, 404},
			probe{req{method: "GET", path: path, header: map[string]string{"Range": "bytes=0-1"}}, 404},
			probe{req{method: "DELETE", path: path}, 404},
		)
	}
	probes = append(probes,
		probe{req{method: "GET", path: "/v1/refs/head"}, 404},
		probe{req{method: "PUT", path: "/v1/refs/head", body: wire.Ref{Value: []byte("a"), Version: 1}}, 409},
		// B's chain entry, appended to A's chain: wrong account.
		probe{req{method: "POST", path: "/v1/chain", body: wire.ChainAppend{Seq: 2, Entry: bEntry}}, 400},
		probe{req{method: "PUT", path: "/v1/pairings/" + accountID(50) + "/2", body: "x"}, 404},
	)
	for _, tok := range []string{a.token, a.aoToken} {
		for _, p := range probes {
			q := p.q
			q.token = tok
			status := p.status
			if tok == a.aoToken && (q.method == "DELETE" || q.method == "POST") {
				status = 403 // refused on rights before anything is looked up
			}
			e.do(q).want(t, fmt.Sprintf("%s %s as A", q.method, q.path), status, "")
		}
		// Listing and the device list show only A's own.
		for _, k := range store.Kinds {
			list := decode[wire.ListResponse](t, e.do(req{method: "GET", path: "/v1/objects/" + string(k) + "/", token: tok}))
			if len(list.Objects) != 0 {
				t.Errorf("A lists %s: %+v", k, list.Objects)
			}
		}
		devs := decode[wire.DevicesResponse](t, e.do(req{method: "GET", path: "/v1/devices", token: tok}))
		if len(devs.Devices) != 2 || devs.Devices[0].Device != a.full.id {
			t.Errorf("A lists devices %+v", devs.Devices)
		}
		page := decode[wire.ChainPage](t, e.do(req{method: "GET", path: "/v1/chain", token: tok}))
		if len(page.Entries) != 2 || devices.Hash(page.Entries[1]) != a.chain.Head() {
			t.Errorf("A reads a chain of %d entries, not its own", len(page.Entries))
		}
	}
	// Writing B's names lands in A's namespace only.
	for _, k := range []store.Kind{store.Config, store.Packs} {
		body := []byte("a's own")
		name := bNames[k]
		if k == store.Packs {
			name = sha(body)
		}
		e.put(a.token, string(k), body, name, 201)
	}
	// A's device cannot get a token for B: the challenge and the token
	// request both name an account the device is not in.
	e.do(req{method: "POST", path: "/v1/auth/challenge", body: wire.ChallengeRequest{Account: b.id, Device: a.full.id}}).want(t, "challenge for B", 404, "not_found")
	ch := e.challenge(a.id, a.full)
	e.do(req{method: "POST", path: "/v1/auth/token", body: tokenRequest(b.id, a.full, ch)}).want(t, "token for B", 404, "not_found")
	sig := ed25519.Sign(a.full.key, wire.AuthMessage(a.id, a.full.id, ch))
	e.do(req{method: "POST", path: "/v1/auth/token", body: wire.TokenRequest{Account: a.id, Device: b.full.id, Challenge: ch, Signature: sig}}).
		want(t, "A's challenge as B's device", 404, "not_found")
	if after := e.state(b, "head"); after != before {
		t.Errorf("B's state changed:\nbefore %s\nafter  %s", before, after)
	}
}

// TestAppendOnly checks what an append-only device may do: read, create
// objects of the backup kinds, set non-admin refs, delete only the session
// markers it created, and nothing else.
func TestAppendOnly(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(1)
	names := e.populate(a, 1) // sessions object made by the append-only device
	fullSession, fsName := content(77, 10)
	e.put(a.token, "sessions", fullSession, fsName, 201)
	before := e.state(a)

	for i, k := range store.Kinds {
		body, name := content(uint64(500+i), 20)
		if !contentAddressed(k) {
			name = "new-" + string(k)
		}
		want := 403
		if appendable(k) {
			want = 201
		}
		e.put(a.aoToken, string(k), body, name, want)
		e.do(req{method: "GET", path: "/v1/objects/" + string(k) + "/" + names[k], token: a.aoToken}).want(t, "read "+string(k), 200, "")
		if k != store.Sessions {
			e.do(req{method: "DELETE", path: "/v1/objects/" + string(k) + "/" + names[k], token: a.aoToken}).want(t, "delete "+string(k), 403, "forbidden")
		}
	}
	e.do(req{method: "DELETE", path: "/v1/objects/sessions/" + fsName, token: a.aoToken}).want(t, "delete another device's session", 403, "forbidden")
	e.do(req{method: "DELETE", path: "/v1/objects/sessions/" + sha([]byte("none")), token: a.aoToken}).want(t, "delete a missing session", 403, "forbidden")
	e.put(a.aoToken, string(store.Packs), nil, names[store.Packs], 409) // no overwrite, for anyone
	add := wire.ChainAppend{Seq: a.chain.Len(), Entry: a.addDevice(t, newDevice(60))}
	e.do(req{method: "POST", path: "/v1/chain", token: a.aoToken, body: add}).want(t, "add a device", 403, "forbidden")
	e.do(req{method: "POST", path: "/v1/pairings", token: a.aoToken, body: wire.PairingRequest{ID: accountID(9), TTL: 60}}).
		want(t, "open a pairing", 403, "forbidden")

	// Only the new objects were added; everything that was there remains.
	for _, k := range store.Kinds {
		if e.do(req{method: "HEAD", path: "/v1/objects/" + string(k) + "/" + names[k], token: a.token}).status != 200 {
			t.Errorf("%s/%s is gone", k, names[k])
		}
	}
	if e.state(a) == before {
		t.Error("the allowed puts changed nothing")
	}
	// Its own session marker it may delete, once.
	path := "/v1/objects/sessions/" + names[store.Sessions]
	e.do(req{method: "DELETE", path: path, token: a.aoToken}).want(t, "delete own session", 204, "")
	e.do(req{method: "DELETE", path: path, token: a.aoToken}).want(t, "delete own session again", 403, "forbidden")
	// The full device may delete anything.
	e.do(req{method: "DELETE", path: "/v1/objects/sessions/" + fsName, token: a.token}).want(t, "full deletes a session", 204, "")
	e.do(req{method: "DELETE", path: "/v1/objects/packs/" + names[store.Packs], token: a.token}).want(t, "full deletes a pack", 204, "")
}

// TestSessionCreatorReset checks that a session marker deleted and put again
// by another device belongs to the new creator.
func TestSessionCreatorReset(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(1)
	body, name := content(1, 10)
	path := "/v1/objects/sessions/" + name
	e.put(a.aoToken, "sessions", body, name, 201)
	e.do(req{method: "DELETE", path: path, token: a.token}).want(t, "full deletes", 204, "")
	e.put(a.token, "sessions", body, name, 201)
	e.do(req{method: "DELETE", path: path, token: a.aoToken}).want(t, "append-only deletes the full device's marker", 403, "forbidden")
}

// TestPrincipalRights is the authorization matrix: every kind of
// principal (full device, append-only device, recovery key, recovery
// contact) against every authenticated endpoint. Requests that a principal
// may make are chosen to change nothing (conflicts, missing names), so
// every row sees the same state.
func TestPrincipalRights(t *testing.T) {
	e := newEnv(t)
	a, b := e.newAccount(1), e.newAccount(2)
	contact := b.full // B's device is a recovery contact of A
	entry, err := a.chain.SetContacts(devices.ByDevice(a.full.k), []keys.DevicePublic{contact.k.Public()}, 1, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.appendEntry(a, a.token, entry).want(t, "set contacts", 201, "")
	share := "contact-" + contact.id + "-0123456789abcdef"
	pack, packName := content(1, 10)
	for kind, name := range map[string]string{"keys": share, "config": "config"} {
		e.put(a.token, kind, []byte("x"), name, 201)
	}
	e.put(a.token, "keys", []byte("x"), "other", 201)
	e.put(a.token, "packs", pack, packName, 201)
	e.do(req{method: "PUT", path: "/v1/refs/head", token: a.token, body: wire.Ref{Value: []byte("v")}}).want(t, "ref", 200, "")
	e.do(req{method: "POST", path: "/v1/names", token: a.token, body: wire.NameRequest{Name: "alice"}}).want(t, "name", 201, "")

	tokens := []string{a.token, a.aoToken, e.login(a.id, principalOf(a.recovery)), e.login(a.id, contact)}
	conflict := wire.ChainAppend{Seq: 1, Entry: entry} // a stale position: 409 for whoever may append
	tests := []struct {
		q    req
		want [4]int // full, append-only, recovery, contact
	}{
		{req{method: "GET", path: "/v1/devices"}, [4]int{200, 200, 403, 403}},
		{req{method: "GET", path: "/v1/chain"}, [4]int{200, 200, 200, 200}},
		{req{method: "GET", path: "/v1/chain?from=1"}, [4]int{200, 200, 200, 200}},
		{req{method: "GET", path: "/v1/accounts/" + b.id + "/chain"}, [4]int{200, 200, 200, 200}},
		{req{method: "GET", path: "/v1/accounts/" + accountID(99) + "/chain"}, [4]int{404, 404, 404, 404}},
		{req{method: "POST", path: "/v1/chain", body: conflict}, [4]int{409, 403, 409, 403}},
		{req{method: "GET", path: "/v1/objects/keys/" + share}, [4]int{200, 200, 200, 200}},
		{req{method: "HEAD", path: "/v1/objects/keys/" + share}, [4]int{200, 200, 200, 200}},
		{req{method: "GET", path: "/v1/objects/keys/other"}, [4]int{200, 200, 200, 403}},
		{req{method: "GET", path: "/v1/objects/keys/contact-" + b.appendOnly.id + "-0123456789abcdef"}, [4]int{404, 404, 404, 403}},
		{req{method: "GET", path: "/v1/objects/config/config"}, [4]int{200, 200, 200, 403}},
		{req{method: "GET", path: "/v1/objects/packs/" + packName}, [4]int{200, 200, 403, 403}},
		{req{method: "HEAD", path: "/v1/objects/packs/" + packName}, [4]int{200, 200, 403, 403}},
		{req{method: "GET", path: "/v1/objects/keys/"}, [4]int{200, 200, 200, 403}},
		{req{method: "GET", path: "/v1/objects/config/"}, [4]int{200, 200, 200, 403}},
		{req{method: "GET", path: "/v1/objects/packs/"}, [4]int{200, 200, 403, 403}},
		{req{method: "PUT", path: "/v1/objects/keys/other", body: "y"}, [4]int{409, 403, 409, 403}},
		{req{method: "PUT", path: "/v1/objects/config/config", body: "y"}, [4]int{409, 403, 403, 403}},
		{req{method: "PUT", path: "/v1/objects/packs/" + packName, body: pack}, [4]int{409, 409, 403, 403}},
		{req{method: "DELETE", path: "/v1/objects/packs/" + sha([]byte("none"))}, [4]int{404, 403, 403, 403}},
		{req{method: "GET", path: "/v1/refs/head"}, [4]int{200, 200, 403, 403}},
		{req{method: "POST", path: "/v1/names", body: wire.NameRequest{Name: "alice"}}, [4]int{409, 403, 403, 403}},
		{req{method: "GET", path: "/v1/names/alice"}, [4]int{200, 200, 200, 200}},
		{req{method: "GET", path: "/v1/names/bob"}, [4]int{404, 404, 404, 404}},
		{req{method: "PUT", path: "/v1/refs/head", body: wire.Ref{Version: 0}}, [4]int{409, 409, 403, 403}},
		{req{method: "POST", path: "/v1/pairings", body: wire.PairingRequest{ID: accountID(9)}}, [4]int{400, 403, 403, 403}},
		{req{method: "PUT", path: "/v1/pairings/" + accountID(9) + "/2", body: "x"}, [4]int{404, 404, 403, 403}},
	}
	names := [4]string{"full", "append-only", "recovery", "contact"}
	for _, tc := range tests {
		for i, tok := range tokens {
			q := tc.q
			q.token = tok
			e.do(q).want(t, fmt.Sprintf("%s %s as %s", q.method, q.path, names[i]), tc.want[i], "")
		}
	}
}

// TestRecoveryWritesKeys checks that the recovery principal may create
// objects of kind keys, and no others, and never overwrite or delete one.
func TestRecoveryWritesKeys(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(1)
	tok := e.login(a.id, principalOf(a.recovery))
	pack, packName := content(1, 10)
	for _, tc := range []struct {
		method, kind, name string
		body               []byte
		status             int
	}{
		{"PUT", "keys", "0123456789abcdef.device-" + a.full.id, []byte("wrapped"), 201},
		{"PUT", "keys", "0123456789abcdef.device-" + a.full.id, []byte("another"), 409},
		{"PUT", "config", "config", []byte("c"), 403},
		{"PUT", "packs", packName, pack, 403},
		{"DELETE", "keys", "0123456789abcdef.device-" + a.full.id, nil, 403},
	} {
		e.do(req{method: tc.method, path: "/v1/objects/" + tc.kind + "/" + tc.name, token: tok, body: tc.body}).
			want(t, tc.method+" "+tc.kind+"/"+tc.name, tc.status, "")
	}
	r := e.do(req{method: "GET", path: "/v1/objects/keys/0123456789abcdef.device-" + a.full.id, token: a.token})
	if r.status != 200 || string(r.body) != "wrapped" {
		t.Errorf("the key the recovery principal wrote: %d %q", r.status, r.body)
	}
}

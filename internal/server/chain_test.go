package server

import (
	"bytes"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/server/wire"
)

// TestChainAppend covers appends: the compare-and-swap on length, entries
// that do not verify, rights, signers, and the effect of each entry type
// on the device table.
func TestChainAppend(t *testing.T) {
	e := newEnv(t)
	a, b := e.newAccount(1), e.newAccount(2)
	second := newDevice(50)
	add := a.addDevice(t, second)
	post := func(tok string, body any) resp {
		return e.do(req{method: "POST", path: "/v1/chain", token: tok, body: body})
	}

	r := post(a.token, wire.ChainAppend{Seq: 1, Entry: add})
	r.want(t, "behind", 409, "conflict")
	if l := decode[wire.Error](t, r).Length; l == nil || *l != 2 {
		t.Errorf("conflict gives length %v, want 2", l)
	}
	post(a.token, wire.ChainAppend{Seq: 3, Entry: add}).want(t, "ahead", 409, "conflict")
	tampered := bytes.Clone(add)
	tampered[len(tampered)-70] ^= 1
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"garbage", wire.ChainAppend{Seq: 2, Entry: []byte("garbage")}, 400, "bad_entry"},
		{"empty", wire.ChainAppend{Seq: 2}, 400, "bad_entry"},
		{"bad signature", wire.ChainAppend{Seq: 2, Entry: tampered}, 400, "bad_entry"},
		{"another account's entry", wire.ChainAppend{Seq: 2, Entry: b.addDevice(t, second)}, 400, "bad_entry"},
		{"rights in the request", `{"seq":2,"entry":"AA==","rights":"full"}`, 400, "bad_request"},
		{"unknown field", `{"seq":2,"entry":"AA==","extra":1}`, 400, "bad_request"},
		{"too big", wire.ChainAppend{Seq: 2, Entry: make([]byte, 40<<10)}, 413, "too_large"},
	} {
		r := post(a.token, tc.body)
		r.want(t, tc.name, tc.status, tc.code)
		if tc.code == "bad_entry" && !strings.Contains(decode[wire.Error](t, r).Error, "device chain entry") {
			t.Errorf("%s: %s does not give the verifier's reason", tc.name, r.body)
		}
	}
	// An entry signed by the append-only device is refused even from a
	// full device: only full devices and the recovery key change the chain.
	byAO := signedBy(a.chain, &devices.Entry{Type: devices.TypeRotateKey, Epoch: 1, Commit: commitOf(9)}, a.appendOnly.k)
	post(a.token, wire.ChainAppend{Seq: 2, Entry: byAO}).want(t, "signed by the append-only device", 403, "forbidden")

	r = e.appendEntry(a, a.token, add)
	r.want(t, "add", 201, "")
	if got := decode[wire.ChainLength](t, r); got.Length != 3 {
		t.Errorf("length after the add: %d", got.Length)
	}
	post(a.token, wire.ChainAppend{Seq: 3, Entry: add}).want(t, "the same entry again", 400, "bad_entry")
	secondTok := e.login(a.id, second)
	e.appendEntry(a, secondTok, a.removeDevice(t, a.appendOnly)).want(t, "remove by the second device", 201, "")
	devs := decode[wire.DevicesResponse](t, e.do(req{method: "GET", path: "/v1/devices", token: a.token})).Devices
	if len(devs) != 3 || devs[2].Device != second.id || devs[2].AddedBy != a.full.id || devs[2].Rights != "full" ||
		devs[2].Name != second.k.Name || !bytes.Equal(devs[2].SignKey, second.pub()) || devs[2].Revoked != nil || devs[1].Revoked == nil {
		t.Errorf("devices %+v", devs)
	}
	page := decode[wire.ChainPage](t, e.do(req{method: "GET", path: "/v1/chain?from=2", token: secondTok}))
	if len(page.Entries) != 2 || !bytes.Equal(page.Entries[0], add) {
		t.Errorf("entries from 2: %d", len(page.Entries))
	}
	if _, err := a.chain.Extend(page.Entries); err != nil {
		t.Errorf("served entries do not verify: %v", err)
	}
	for _, q := range []string{"?from=4", "?from=99"} {
		if page := decode[wire.ChainPage](t, e.do(req{method: "GET", path: "/v1/chain" + q, token: a.token})); page.Entries == nil || len(page.Entries) != 0 {
			t.Errorf("%s: %v, want an empty list", q, page.Entries)
		}
	}
	for _, q := range []string{"?from=-1", "?from=x", "?from=1e3", "?from=%zz"} {
		e.do(req{method: "GET", path: "/v1/chain" + q, token: a.token}).want(t, q, 400, "bad_request")
	}
}

// TestChainPages checks that reads are pages of at most the page length
// and that an append after the server lost its verified state (a restart),
// or holds one that does not lead to the stored chain, verifies the stored
// chain again, page by page.
func TestChainPages(t *testing.T) {
	e := newEnv(t)
	e.s.pageLen = 4
	a := e.newAccount(1)
	const n = 11
	for i := range n {
		entry, err := a.chain.RotateKey(devices.ByDevice(a.full.k), commitOf(byte(i)), e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		switch i {
		case n - 2: // a state that does not lead to the stored chain: dropped
			fork, err := devices.Verify(a.id, [][]byte{genesis(t, a.id, newDevice(77), recoveryKey(t))})
			if err != nil {
				t.Fatal(err)
			}
			e.s.chains.put(a.id, fork)
		case n - 1: // forgotten: verified again from the database
			e.s.chains.put(a.id, nil)
		}
		e.appendEntry(a, a.token, entry).want(t, fmt.Sprint("rotate ", i), 201, "")
	}
	var all [][]byte
	for {
		page := decode[wire.ChainPage](t, e.do(req{method: "GET", path: fmt.Sprintf("/v1/chain?from=%d", len(all)), token: a.aoToken}))
		if len(page.Entries) == 0 {
			break
		}
		if len(page.Entries) > e.s.pageLen {
			t.Fatalf("a page of %d entries", len(page.Entries))
		}
		all = append(all, page.Entries...)
	}
	if len(all) != n+2 {
		t.Fatalf("read %d entries, want %d", len(all), n+2)
	}
	if _, err := devices.Verify(a.id, all); err != nil {
		t.Error(err)
	}
}

// TestRecoveryAndContacts covers the principals the chain names besides
// devices: the recovery key adds a device and is rotated; contacts come
// and go with set-contacts entries.
func TestRecoveryAndContacts(t *testing.T) {
	e := newEnv(t)
	a, b := e.newAccount(1), e.newAccount(2)
	recTok := e.login(a.id, principalOf(a.recovery))
	lost := newDevice(60)
	entry, err := a.chain.AddDeviceWith(devices.ByRecovery(a.recovery), lost.k.Public(), devices.AppendOnly, lost.countersign, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.appendEntry(a, recTok, entry).want(t, "add by the recovery key", 201, "")
	devs := decode[wire.DevicesResponse](t, e.do(req{method: "GET", path: "/v1/devices", token: a.token})).Devices
	if len(devs) != 3 || devs[2].AddedBy != principalOf(a.recovery).id || devs[2].Rights != "append-only" {
		t.Errorf("device added by recovery: %+v", devs)
	}
	e.do(req{method: "GET", path: "/v1/objects/packs/", token: e.login(a.id, lost)}).want(t, "the new device", 200, "")

	// Rotating the recovery key retires the old one's tokens and logins.
	newRK := recoveryKey(t)
	entry, err = a.chain.RotateRecovery(devices.ByDevice(a.full.k), newRK, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.appendEntry(a, a.token, entry).want(t, "rotate recovery", 201, "")
	e.do(req{method: "GET", path: "/v1/chain", token: recTok}).want(t, "old recovery token", 401, "unauthenticated")
	e.do(req{method: "POST", path: "/v1/auth/challenge", body: wire.ChallengeRequest{Account: a.id, Device: principalOf(a.recovery).id}}).
		want(t, "old recovery key", 403, "forbidden")
	e.login(a.id, principalOf(newRK))

	// Contacts: B's devices log in to A by their own IDs, until dropped.
	setContacts := func(cs ...device) {
		t.Helper()
		var pubs []keys.DevicePublic
		for _, c := range cs {
			pubs = append(pubs, c.k.Public())
		}
		entry, err := a.chain.SetContacts(devices.ByDevice(a.full.k), pubs, len(pubs), e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.appendEntry(a, a.token, entry).want(t, fmt.Sprint("set ", len(cs), " contacts"), 201, "")
	}
	e.do(req{method: "POST", path: "/v1/auth/challenge", body: wire.ChallengeRequest{Account: a.id, Device: b.full.id}}).
		want(t, "not yet a contact", 404, "not_found")
	setContacts(b.full, b.appendOnly)
	fullTok := e.login(a.id, b.full)
	aoTok := e.login(a.id, b.appendOnly)
	e.do(req{method: "GET", path: "/v1/chain", token: fullTok}).want(t, "contact reads the chain", 200, "")
	setContacts(b.appendOnly)
	e.do(req{method: "GET", path: "/v1/chain", token: fullTok}).want(t, "dropped contact", 401, "unauthenticated")
	e.do(req{method: "GET", path: "/v1/chain", token: aoTok}).want(t, "kept contact", 200, "")
	setContacts(b.full)
	e.login(a.id, b.full) // back again
	devs = decode[wire.DevicesResponse](t, e.do(req{method: "GET", path: "/v1/devices", token: a.token})).Devices
	if len(devs) != 3 {
		t.Errorf("contacts are listed as devices: %+v", devs)
	}
	// B's own standing is untouched.
	e.do(req{method: "GET", path: "/v1/objects/packs/", token: b.token}).want(t, "B's own token", 200, "")
}

// TestNoChain checks that an account registered before device chains
// (in a version 1 database) can be used but not appended to.
func TestNoChain(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(1)
	db, err := sql.Open("sqlite", filepath.Join(e.s.cfg.Data, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DELETE FROM chain WHERE account = ?", a.id); err != nil {
		t.Fatal(err)
	}
	if page := decode[wire.ChainPage](t, e.do(req{method: "GET", path: "/v1/chain", token: a.token})); len(page.Entries) != 0 {
		t.Errorf("%d entries", len(page.Entries))
	}
	for _, seq := range []uint64{0, 2} {
		e.do(req{method: "POST", path: "/v1/chain", token: a.token, body: wire.ChainAppend{Seq: seq, Entry: a.addDevice(t, newDevice(9))}}).
			want(t, fmt.Sprint("append at ", seq), 400, "bad_entry")
	}
	e.do(req{method: "GET", path: "/v1/objects/packs/", token: a.aoToken}).want(t, "objects", 200, "")
}

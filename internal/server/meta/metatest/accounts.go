package metatest

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/server/meta"
)

func testAccountsAndDevices(t *testing.T, f *fixture) {
	db := f.populated(t)
	_, err := db.CreateAccount(ctx, AcctA, nil, meta.Change{Add: []meta.Device{device("x", meta.Full)}})
	wantErr(t, "second account A", err, meta.ErrExists)
	wantErr(t, "a1 again", appendTo(db, AcctA, "add a1", meta.Change{Add: []meta.Device{device("a1", meta.AppendOnly)}}), meta.ErrExists)
	if n, _, _ := db.ChainHead(ctx, AcctA); n != 2 {
		t.Errorf("the refused entry left the chain at %d entries", n)
	}
	must(t, appendTo(db, AcctB, "add a1", meta.Change{Add: []meta.Device{device("a1", meta.AppendOnly)}})) // device IDs are per account
	ds, err := db.Devices(ctx, AcctA)
	must(t, err)
	if len(ds) != 2 || ds[0].ID != "a1" || ds[1].ID != "a2" || ds[1].AddedBy != "a1" || ds[1].Rights != meta.AppendOnly ||
		!ds[0].Added.Equal(t0) || !ds[0].Active() || string(ds[0].SignKey) != "key-a1" || ds[0].Name != "dev a1" {
		t.Errorf("devices of A: %+v", ds)
	}
	tests := []struct {
		account, id string
		want        error
	}{
		{AcctA, "a1", nil},
		{AcctA, "b1", meta.ErrNotFound},
		{AcctB, "a2", meta.ErrNotFound},
		{"nosuch", "a1", meta.ErrNotFound},
	}
	for _, tc := range tests {
		_, err := db.Device(ctx, tc.account, tc.id)
		wantErr(t, tc.account+"/"+tc.id, err, tc.want)
	}
}

// testChanges checks how chain entries change principals: revocation by
// role, devices taking the place of principals, and principals coming back.
func testChanges(t *testing.T, f *fixture) {
	db := f.populated(t)
	must(t, db.AddToken(ctx, meta.Hash{1}, AcctA, "a2", t0.Add(time.Hour), t0))
	must(t, db.AddChallenge(ctx, meta.Hash{2}, AcctA, "a2", t0.Add(time.Hour), t0))
	must(t, db.AddToken(ctx, meta.Hash{3}, AcctA, "ra", t0.Add(time.Hour), t0))
	at := t0.Add(time.Minute)
	steps := []struct {
		name string
		c    meta.Change
		want error
	}{
		{"revoke a2", meta.Change{At: at, Revoke: []meta.Device{{ID: "a2", Rights: meta.Full}}}, nil},
		{"revoke a2 again", meta.Change{At: at.Add(time.Hour), Revoke: []meta.Device{{ID: "a2", Rights: meta.Full}}}, nil},
		{"revoke a1 as a contact", meta.Change{At: at, Revoke: []meta.Device{{ID: "a1", Rights: meta.Contact}}}, nil},
		{"revoke unknown", meta.Change{At: at, Revoke: []meta.Device{{ID: "zz", Rights: meta.Recovery}}}, nil},
		{"contact with a device's ID", meta.Change{Add: []meta.Device{device("a1", meta.Contact), device("c1", meta.Contact)}}, nil},
		{"device over a contact", meta.Change{Add: []meta.Device{device("c1", meta.Full)}}, nil},
		{"recovery rotated", meta.Change{At: at, Revoke: []meta.Device{{ID: "ra", Rights: meta.Recovery}}, Add: []meta.Device{device("rb", meta.Recovery)}}, nil},
		{"recovery rotated back", meta.Change{At: at, Revoke: []meta.Device{{ID: "rb", Rights: meta.Recovery}}, Add: []meta.Device{device("ra", meta.Recovery)}}, nil},
		{"revoked device re-added", meta.Change{Add: []meta.Device{device("a2", meta.Full)}}, meta.ErrExists},
		{"revoked device as a contact", meta.Change{Add: []meta.Device{device("a2", meta.Contact)}}, nil},
	}
	for _, st := range steps {
		wantErr(t, st.name, appendTo(db, AcctA, st.name, st.c), st.want)
	}
	for _, w := range []struct {
		id     string
		rights meta.Rights
		active bool
	}{
		{"a1", meta.Full, true}, {"a2", meta.AppendOnly, false}, {"c1", meta.Full, true}, {"ra", meta.Recovery, true}, {"rb", meta.Recovery, false},
	} {
		d, err := db.Device(ctx, AcctA, w.id)
		if err != nil || d.Rights != w.rights || d.Active() != w.active {
			t.Errorf("%s: %+v, %v; want %s, active %v", w.id, d, err, w.rights, w.active)
		}
	}
	if d, _ := db.Device(ctx, AcctA, "a2"); !d.Revoked.Equal(at) {
		t.Errorf("a2 revoked at %v, want the first revocation's time", d.Revoked)
	}
	_, _, err := db.Token(ctx, meta.Hash{1}, t0)
	wantErr(t, "token of a revoked device", err, meta.ErrNotFound)
	wantErr(t, "challenge of a revoked device", db.TakeChallenge(ctx, meta.Hash{2}, AcctA, "a2", t0), meta.ErrNotFound)
	_, _, err = db.Token(ctx, meta.Hash{3}, t0)
	wantErr(t, "token of a rotated recovery key", err, meta.ErrNotFound)
	ds, err := db.Devices(ctx, AcctA)
	must(t, err)
	if len(ds) != 3 || ds[2].ID != "c1" {
		t.Errorf("devices %+v, want a1, a2, c1 and no other principal", ds)
	}
}

// testChain checks appends (compare-and-swap on length and head) and
// bounded reads.
func testChain(t *testing.T, f *fixture) {
	db := f.populated(t)
	n, head, err := db.ChainHead(ctx, AcctA)
	if err != nil || n != 2 || head != sha256.Sum256([]byte("add a2")) {
		t.Fatalf("head %d %x, %v", n, head, err)
	}
	for _, tc := range []struct {
		name string
		seq  uint64
		prev meta.Hash
		want error
	}{
		{"behind", 1, head, meta.ErrConflict},
		{"ahead", 3, head, meta.ErrConflict},
		{"another head", 2, meta.Hash{1}, meta.ErrConflict},
	} {
		got, _, err := db.AppendChain(ctx, AcctA, tc.seq, tc.prev, []byte("x"), meta.Change{})
		wantErr(t, tc.name, err, tc.want)
		if got != 2 {
			t.Errorf("%s: length %d, want 2", tc.name, got)
		}
	}
	if _, _, err := db.AppendChain(ctx, AcctA, 0, meta.Hash{}, []byte("x"), meta.Change{}); err == nil {
		t.Error("appended entry 0")
	}
	_, _, err = db.AppendChain(ctx, "nosuch", 1, meta.Hash{}, []byte("x"), meta.Change{})
	wantErr(t, "unknown account", err, meta.ErrNotFound)
	for i := range 5 {
		must(t, appendTo(db, AcctA, fmt.Sprintf("entry %d", 2+i), meta.Change{}))
	}
	for _, tc := range []struct {
		from           uint64
		maxN, maxBytes int
		want           []string
	}{
		{0, 3, 1000, []string{"genesis of " + AcctA, "add a2", "entry 2"}},
		{3, 100, 1000, []string{"entry 3", "entry 4", "entry 5", "entry 6"}},
		{3, 100, 14, []string{"entry 3", "entry 4"}},
		{3, 100, 1, []string{"entry 3"}}, // the first one always
		{7, 100, 1000, nil},
		{1 << 63, 100, 1000, nil},
	} {
		got, err := db.ChainEntries(ctx, AcctA, tc.from, tc.maxN, tc.maxBytes)
		if err != nil || fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
			t.Errorf("from %d (%d, %d bytes): %q, %v; want %q", tc.from, tc.maxN, tc.maxBytes, got, err, tc.want)
		}
	}
	_, err = db.ChainEntries(ctx, "nosuch", 0, 1, 1)
	wantErr(t, "entries of an unknown account", err, meta.ErrNotFound)
	_, _, err = db.ChainHead(ctx, "nosuch")
	wantErr(t, "head of an unknown account", err, meta.ErrNotFound)
}

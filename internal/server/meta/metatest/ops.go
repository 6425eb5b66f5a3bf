package metatest

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/server/meta"
)

// testPairings checks the pairing mailbox: creation limits, write-once
// slots, the creator's account, and expiry.
func testPairings(t *testing.T, f *fixture) {
	db := f.populated(t)
	exp := t0.Add(time.Minute)
	must(t, db.CreatePairing(ctx, "p1", AcctA, exp, t0, 2))
	wantErr(t, "p1 again", db.CreatePairing(ctx, "p1", AcctB, exp, t0, 2), meta.ErrExists)
	must(t, db.CreatePairing(ctx, "p2", AcctA, exp.Add(time.Hour), t0, 2))
	wantErr(t, "third live pairing", db.CreatePairing(ctx, "p3", AcctA, exp, t0, 2), meta.ErrQuota)
	must(t, db.CreatePairing(ctx, "p3", AcctB, exp, t0, 2))

	body, written, err := db.PairingSlot(ctx, "p1", 1, t0)
	if err != nil || written || body != nil {
		t.Errorf("empty slot: %q %v %v", body, written, err)
	}
	for _, tc := range []struct {
		name, id string
		slot     int
		account  string
		want     error
	}{
		{"anonymous", "p1", 1, "", nil},
		{"again", "p1", 1, "", meta.ErrExists},
		{"by the creator", "p1", 2, AcctA, nil},
		{"by another account", "p1", 3, AcctB, meta.ErrNotFound},
		{"unknown", "px", 1, "", meta.ErrNotFound},
	} {
		wantErr(t, tc.name, db.PutPairing(ctx, tc.id, tc.slot, tc.account, []byte(tc.name), t0), tc.want)
	}
	must(t, db.PutPairing(ctx, "p1", 4, "", nil, t0))
	for slot, want := range map[int]string{1: "anonymous", 2: "by the creator", 4: ""} {
		body, written, err := db.PairingSlot(ctx, "p1", slot, t0)
		if err != nil || !written || string(body) != want {
			t.Errorf("slot %d: %q %v %v", slot, body, written, err)
		}
	}
	_, _, err = db.PairingSlot(ctx, "p1", 1, exp)
	wantErr(t, "expired", err, meta.ErrNotFound)
	wantErr(t, "write after expiry", db.PutPairing(ctx, "p1", 3, "", []byte("x"), exp), meta.ErrNotFound)
	// Creating forgets expired pairings, which no longer count.
	must(t, db.CreatePairing(ctx, "p4", AcctA, exp.Add(time.Hour), exp, 2))
	if n := f.rows(t, "pairing_slots"); n != 0 {
		t.Errorf("%d slots of expired pairings kept", n)
	}
}

func testChallenges(t *testing.T, f *fixture) {
	db := f.populated(t)
	h := meta.Hash(sha256.Sum256([]byte("challenge")))
	must(t, db.AddChallenge(ctx, h, AcctA, "a1", t0.Add(time.Minute), t0))
	tests := []struct {
		name            string
		h               meta.Hash
		account, device string
		now             time.Time
		want            error
	}{
		{"other account", h, AcctB, "a1", t0, meta.ErrNotFound},
		{"other device", h, AcctA, "a2", t0, meta.ErrNotFound},
		{"unknown", meta.Hash{9}, AcctA, "a1", t0, meta.ErrNotFound},
		{"expired", h, AcctA, "a1", t0.Add(time.Minute), meta.ErrNotFound},
		{"good", h, AcctA, "a1", t0.Add(59 * time.Second), nil},
		{"replayed", h, AcctA, "a1", t0, meta.ErrNotFound},
	}
	for _, tc := range tests {
		wantErr(t, tc.name, db.TakeChallenge(ctx, tc.h, tc.account, tc.device, tc.now), tc.want)
	}
	// Adding a challenge forgets expired ones.
	must(t, db.AddChallenge(ctx, meta.Hash{2}, AcctA, "a1", t0.Add(time.Minute), t0))
	must(t, db.AddChallenge(ctx, meta.Hash{3}, AcctA, "a1", t0.Add(3*time.Minute), t0.Add(2*time.Minute)))
	if n := f.rows(t, "challenges"); n != 1 {
		t.Errorf("%d challenges kept, want only the live one", n)
	}
}

func testTokens(t *testing.T, f *fixture) {
	db := f.populated(t)
	must(t, db.AddToken(ctx, meta.Hash{1}, AcctA, "a2", t0.Add(15*time.Minute), t0))
	must(t, db.AddToken(ctx, meta.Hash{2}, AcctB, "b1", t0.Add(15*time.Minute), t0))
	tests := []struct {
		h           meta.Hash
		now         time.Time
		account, id string
		want        error
	}{
		{meta.Hash{1}, t0, AcctA, "a2", nil},
		{meta.Hash{2}, t0.Add(15*time.Minute - 1), AcctB, "b1", nil},
		{meta.Hash{2}, t0.Add(15 * time.Minute), "", "", meta.ErrNotFound},
		{meta.Hash{3}, t0, "", "", meta.ErrNotFound},
	}
	for i, tc := range tests {
		account, d, err := db.Token(ctx, tc.h, tc.now)
		wantErr(t, fmt.Sprint("token ", i), err, tc.want)
		if account != tc.account || d.ID != tc.id {
			t.Errorf("token %d: %s/%s, want %s/%s", i, account, d.ID, tc.account, tc.id)
		}
	}
	if _, d, _ := db.Token(ctx, meta.Hash{1}, t0); d.Rights != meta.AppendOnly {
		t.Errorf("token's device has rights %q", d.Rights)
	}
}

func testRefs(t *testing.T, f *fixture) {
	db := f.populated(t)
	steps := []struct {
		account, name string
		value         string
		version, want int64
		err           error
	}{
		{AcctA, "r", "v1", 1, 0, meta.ErrConflict}, // does not exist yet
		{AcctA, "r", "v1", 0, 1, nil},
		{AcctA, "r", "v2", 0, 1, meta.ErrConflict},
		{AcctA, "r", "v2", 1, 2, nil},
		{AcctA, "r", "v3", 1, 2, meta.ErrConflict},
		{AcctB, "r", "b1", 0, 1, nil}, // B's r is another ref
		{AcctA, "s", "s1", 0, 1, nil},
		{AcctA, "t", "t1", 0, 0, meta.ErrQuota}, // a third ref is over the limit of 2
		{AcctA, "s", "s2", 1, 2, nil},           // updates are not
	}
	for i, st := range steps {
		got, err := db.SwapRef(ctx, st.account, st.name, []byte(st.value), st.version, 2)
		wantErr(t, fmt.Sprint("step ", i), err, st.err)
		if got != st.want {
			t.Errorf("step %d: version %d, want %d", i, got, st.want)
		}
	}
	for _, c := range []struct {
		account, name, value string
		version              int64
		err                  error
	}{
		{AcctA, "r", "v2", 2, nil},
		{AcctB, "r", "b1", 1, nil},
		{AcctB, "s", "", 0, meta.ErrNotFound},
	} {
		v, n, err := db.Ref(ctx, c.account, c.name)
		wantErr(t, c.name, err, c.err)
		if string(v) != c.value || n != c.version {
			t.Errorf("ref %s of %s: %q version %d, want %q version %d", c.name, c.account, v, n, c.value, c.version)
		}
	}
}

func testUsageAndQuota(t *testing.T, f *fixture) {
	db := f.populated(t)
	r1, err := db.Reserve(ctx, AcctA, 60, 100, t0)
	must(t, err)
	_, err = db.Reserve(ctx, AcctA, 41, 100, t0)
	wantErr(t, "over quota with a reservation pending", err, meta.ErrQuota)
	r2, err := db.Reserve(ctx, AcctA, 40, 100, t0)
	must(t, err)
	must(t, db.Stored(ctx, AcctA, r1, meta.Object{Kind: "sessions", Name: "s1", Size: 60, Creator: "a2"}))
	must(t, db.Release(ctx, AcctA, r2))
	_, err = db.Reserve(ctx, AcctB, 1000, 0, t0) // unlimited
	must(t, err)
	// A dead reservation (a crashed upload) stops counting after a day.
	_, err = db.Reserve(ctx, AcctA, 40, 100, t0.Add(time.Hour))
	must(t, err)
	_, err = db.Reserve(ctx, AcctA, 40, 100, t0.Add(time.Hour))
	wantErr(t, "over quota", err, meta.ErrQuota)
	_, err = db.Reserve(ctx, AcctA, 40, 100, t0.Add(25*time.Hour))
	must(t, err)

	u, err := db.Usage(ctx)
	must(t, err)
	if u[AcctA] != (meta.Usage{Objects: 1, Bytes: 60}) || u[AcctB] != (meta.Usage{}) || len(u) != 2 {
		t.Errorf("usage %v", u)
	}
	c, err := db.Creator(ctx, AcctA, "sessions", "s1")
	if err != nil || c != "a2" {
		t.Errorf("creator %q, %v", c, err)
	}
	_, err = db.Creator(ctx, AcctB, "sessions", "s1")
	wantErr(t, "creator in B", err, meta.ErrNotFound)
	must(t, db.Deleted(ctx, AcctA, meta.Object{Kind: "sessions", Name: "s1", Size: 60}))
	_, err = db.Creator(ctx, AcctA, "sessions", "s1")
	wantErr(t, "creator after delete", err, meta.ErrNotFound)
	if u, _ := db.Usage(ctx); u[AcctA] != (meta.Usage{}) {
		t.Errorf("usage after delete %v", u[AcctA])
	}
}

package meta

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	ctx = context.Background()
	t0  = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
)

const (
	acctA = "00112233445566778899aabbccddeeff"
	acctB = "ffeeddccbbaa99887766554433221100"
)

func open(t *testing.T) *SQLite {
	t.Helper()
	db, err := OpenSQLite(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func device(id string, r Rights) Device {
	return Device{ID: id, SignKey: []byte("key-" + id), Name: "dev " + id, Rights: r, Added: t0}
}

// withAccounts returns a database holding accounts A (devices a1 full, a2
// append-only) and B (device b1 full).
func withAccounts(t *testing.T) *SQLite {
	t.Helper()
	db := open(t)
	must(t, db.CreateAccount(ctx, acctA, device("a1", Full)))
	a2 := device("a2", AppendOnly)
	a2.AddedBy = "a1"
	must(t, db.AddDevice(ctx, acctA, a2))
	must(t, db.CreateAccount(ctx, acctB, device("b1", Full)))
	return db
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func TestAccountsAndDevices(t *testing.T) {
	db := withAccounts(t)
	wantErr(t, "second account A", db.CreateAccount(ctx, acctA, device("x", Full)), ErrExists)
	wantErr(t, "a1 again", db.AddDevice(ctx, acctA, device("a1", AppendOnly)), ErrExists)
	must(t, db.AddDevice(ctx, acctB, device("a1", AppendOnly))) // device IDs are per account
	ds, err := db.Devices(ctx, acctA)
	must(t, err)
	if len(ds) != 2 || ds[0].ID != "a1" || ds[1].ID != "a2" || ds[1].AddedBy != "a1" || ds[1].Rights != AppendOnly ||
		!ds[0].Added.Equal(t0) || !ds[0].Active() || string(ds[0].SignKey) != "key-a1" || ds[0].Name != "dev a1" {
		t.Errorf("devices of A: %+v", ds)
	}
	tests := []struct {
		account, id string
		want        error
	}{
		{acctA, "a1", nil},
		{acctA, "b1", ErrNotFound},
		{acctB, "a2", ErrNotFound},
		{"nosuch", "a1", ErrNotFound},
	}
	for _, tc := range tests {
		_, err := db.Device(ctx, tc.account, tc.id)
		wantErr(t, tc.account+"/"+tc.id, err, tc.want)
	}
}

func TestRevoke(t *testing.T) {
	db := withAccounts(t)
	h := Hash{1}
	must(t, db.AddToken(ctx, h, acctA, "a2", t0.Add(time.Hour), t0))
	tests := []struct {
		account, id string
		want        error
	}{
		{acctA, "a1", ErrConflict}, // the last full device
		{acctA, "a2", nil},
		{acctA, "a2", nil}, // again: no change
		{acctA, "zz", ErrNotFound},
		{acctB, "a2", ErrNotFound},
		{acctB, "b1", ErrConflict},
	}
	for i, tc := range tests {
		wantErr(t, fmt.Sprintf("%d: revoke %s", i, tc.id), db.RevokeDevice(ctx, tc.account, tc.id, t0.Add(time.Duration(i)*time.Second)), tc.want)
	}
	d, err := db.Device(ctx, acctA, "a2")
	must(t, err)
	if !d.Revoked.Equal(t0.Add(time.Second)) {
		t.Errorf("revoked at %v, want the first revocation's time", d.Revoked)
	}
	_, _, err = db.Token(ctx, h, t0)
	wantErr(t, "token of a revoked device", err, ErrNotFound)
	wantErr(t, "re-adding a revoked device", db.AddDevice(ctx, acctA, device("a2", Full)), ErrExists)
	// With a second full device, the first may go.
	must(t, db.AddDevice(ctx, acctA, device("a3", Full)))
	must(t, db.RevokeDevice(ctx, acctA, "a1", t0))
}

func TestChallenges(t *testing.T) {
	db := withAccounts(t)
	h := Hash(sha256.Sum256([]byte("challenge")))
	must(t, db.AddChallenge(ctx, h, acctA, "a1", t0.Add(time.Minute), t0))
	tests := []struct {
		name            string
		h               Hash
		account, device string
		now             time.Time
		want            error
	}{
		{"other account", h, acctB, "a1", t0, ErrNotFound},
		{"other device", h, acctA, "a2", t0, ErrNotFound},
		{"unknown", Hash{9}, acctA, "a1", t0, ErrNotFound},
		{"expired", h, acctA, "a1", t0.Add(time.Minute), ErrNotFound},
		{"good", h, acctA, "a1", t0.Add(59 * time.Second), nil},
		{"replayed", h, acctA, "a1", t0, ErrNotFound},
	}
	for _, tc := range tests {
		wantErr(t, tc.name, db.TakeChallenge(ctx, tc.h, tc.account, tc.device, tc.now), tc.want)
	}
	// Adding a challenge forgets expired ones.
	must(t, db.AddChallenge(ctx, Hash{2}, acctA, "a1", t0.Add(time.Minute), t0))
	must(t, db.AddChallenge(ctx, Hash{3}, acctA, "a1", t0.Add(3*time.Minute), t0.Add(2*time.Minute)))
	var n int
	must(t, db.db.QueryRow("SELECT COUNT(*) FROM challenges").Scan(&n))
	if n != 1 {
		t.Errorf("%d challenges kept, want only the live one", n)
	}
}

func TestTokens(t *testing.T) {
	db := withAccounts(t)
	must(t, db.AddToken(ctx, Hash{1}, acctA, "a2", t0.Add(15*time.Minute), t0))
	must(t, db.AddToken(ctx, Hash{2}, acctB, "b1", t0.Add(15*time.Minute), t0))
	tests := []struct {
		h           Hash
		now         time.Time
		account, id string
		want        error
	}{
		{Hash{1}, t0, acctA, "a2", nil},
		{Hash{2}, t0.Add(15*time.Minute - 1), acctB, "b1", nil},
		{Hash{2}, t0.Add(15 * time.Minute), "", "", ErrNotFound},
		{Hash{3}, t0, "", "", ErrNotFound},
	}
	for i, tc := range tests {
		account, d, err := db.Token(ctx, tc.h, tc.now)
		wantErr(t, fmt.Sprint("token ", i), err, tc.want)
		if account != tc.account || d.ID != tc.id {
			t.Errorf("token %d: %s/%s, want %s/%s", i, account, d.ID, tc.account, tc.id)
		}
	}
	if _, d, _ := db.Token(ctx, Hash{1}, t0); d.Rights != AppendOnly {
		t.Errorf("token's device has rights %q", d.Rights)
	}
}

func TestRefs(t *testing.T) {
	db := withAccounts(t)
	steps := []struct {
		account, name string
		value         string
		version, want int64
		err           error
	}{
		{acctA, "r", "v1", 1, 0, ErrConflict}, // does not exist yet
		{acctA, "r", "v1", 0, 1, nil},
		{acctA, "r", "v2", 0, 1, ErrConflict},
		{acctA, "r", "v2", 1, 2, nil},
		{acctA, "r", "v3", 1, 2, ErrConflict},
		{acctB, "r", "b1", 0, 1, nil}, // B's r is another ref
		{acctA, "s", "s1", 0, 1, nil},
		{acctA, "t", "t1", 0, 0, ErrQuota}, // a third ref is over the limit of 2
		{acctA, "s", "s2", 1, 2, nil},      // updates are not
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
		{acctA, "r", "v2", 2, nil},
		{acctB, "r", "b1", 1, nil},
		{acctB, "s", "", 0, ErrNotFound},
	} {
		v, n, err := db.Ref(ctx, c.account, c.name)
		wantErr(t, c.name, err, c.err)
		if string(v) != c.value || n != c.version {
			t.Errorf("ref %s of %s: %q version %d, want %q version %d", c.name, c.account, v, n, c.value, c.version)
		}
	}
}

func TestUsageAndQuota(t *testing.T) {
	db := withAccounts(t)
	r1, err := db.Reserve(ctx, acctA, 60, 100, t0)
	must(t, err)
	_, err = db.Reserve(ctx, acctA, 41, 100, t0)
	wantErr(t, "over quota with a reservation pending", err, ErrQuota)
	r2, err := db.Reserve(ctx, acctA, 40, 100, t0)
	must(t, err)
	must(t, db.Stored(ctx, acctA, r1, Object{Kind: "sessions", Name: "s1", Size: 60, Creator: "a2"}))
	must(t, db.Release(ctx, acctA, r2))
	_, err = db.Reserve(ctx, acctB, 1000, 0, t0) // unlimited
	must(t, err)
	// A dead reservation (a crashed upload) stops counting after a day.
	_, err = db.Reserve(ctx, acctA, 40, 100, t0.Add(time.Hour))
	must(t, err)
	_, err = db.Reserve(ctx, acctA, 40, 100, t0.Add(time.Hour))
	wantErr(t, "over quota", err, ErrQuota)
	_, err = db.Reserve(ctx, acctA, 40, 100, t0.Add(deadReservation+2*time.Hour))
	must(t, err)

	u, err := db.Usage(ctx)
	must(t, err)
	if u[acctA] != (Usage{1, 60}) || u[acctB] != (Usage{}) || len(u) != 2 {
		t.Errorf("usage %v", u)
	}
	c, err := db.Creator(ctx, acctA, "sessions", "s1")
	if err != nil || c != "a2" {
		t.Errorf("creator %q, %v", c, err)
	}
	_, err = db.Creator(ctx, acctB, "sessions", "s1")
	wantErr(t, "creator in B", err, ErrNotFound)
	must(t, db.Deleted(ctx, acctA, Object{Kind: "sessions", Name: "s1", Size: 60}))
	_, err = db.Creator(ctx, acctA, "sessions", "s1")
	wantErr(t, "creator after delete", err, ErrNotFound)
	if u, _ := db.Usage(ctx); u[acctA] != (Usage{}) {
		t.Errorf("usage after delete %v", u[acctA])
	}
}

func TestDeleteAccount(t *testing.T) {
	db := withAccounts(t)
	must(t, db.AddToken(ctx, Hash{1}, acctA, "a1", t0.Add(time.Hour), t0))
	_, err := db.SwapRef(ctx, acctA, "r", []byte("x"), 0, 10)
	must(t, err)
	must(t, db.DeleteAccount(ctx, acctA))
	_, err = db.Device(ctx, acctA, "a1")
	wantErr(t, "device", err, ErrNotFound)
	_, _, err = db.Token(ctx, Hash{1}, t0)
	wantErr(t, "token", err, ErrNotFound)
	must(t, db.CreateAccount(ctx, acctA, device("a1", Full)))
	_, _, err = db.Ref(ctx, acctA, "r")
	wantErr(t, "ref of the deleted account", err, ErrNotFound)
	if _, err := db.Device(ctx, acctB, "b1"); err != nil {
		t.Errorf("B was touched: %v", err)
	}
}

// TestSharedFile runs two handles on one file, as two server instances do:
// of racing compare-and-swaps and challenge uses, exactly one wins.
func TestSharedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	var dbs [2]*SQLite
	for i := range dbs {
		db, err := OpenSQLite(path)
		must(t, err)
		defer db.Close()
		dbs[i] = db
	}
	must(t, dbs[0].CreateAccount(ctx, acctA, device("a1", Full)))
	must(t, dbs[1].AddChallenge(ctx, Hash{7}, acctA, "a1", t0.Add(time.Minute), t0))
	var refWins, challengeWins atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			db := dbs[i%2]
			if _, err := db.SwapRef(ctx, acctA, "r", []byte{byte(i)}, 0, 10); err == nil {
				refWins.Add(1)
			} else if !errors.Is(err, ErrConflict) {
				t.Error(err)
			}
			if err := db.TakeChallenge(ctx, Hash{7}, acctA, "a1", t0); err == nil {
				challengeWins.Add(1)
			} else if !errors.Is(err, ErrNotFound) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if refWins.Load() != 1 || challengeWins.Load() != 1 {
		t.Errorf("%d ref creations and %d challenge uses won, want 1 each", refWins.Load(), challengeWins.Load())
	}
}

func TestSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	db, err := OpenSQLite(path)
	must(t, err)
	_, err = db.db.Exec("PRAGMA user_version = 99")
	must(t, err)
	db.Close()
	if db, err := OpenSQLite(path); err == nil {
		db.Close()
		t.Error("opened a database of schema version 99")
	}
	if _, err := OpenSQLite(filepath.Join(t.TempDir(), "a?b")); err == nil {
		t.Error("accepted a path with '?'")
	}
}

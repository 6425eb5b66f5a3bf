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

// create creates an account whose genesis adds the given principals.
func create(t *testing.T, db *SQLite, account string, add ...Device) {
	t.Helper()
	_, err := db.CreateAccount(ctx, account, []byte("genesis of "+account), Change{At: t0, Add: add})
	must(t, err)
}

// appendTo appends an entry to the chain.
func appendTo(db *SQLite, account string, entry string, c Change) error {
	n, head, err := db.ChainHead(ctx, account)
	if err != nil {
		return err
	}
	_, _, err = db.AppendChain(ctx, account, n, head, []byte(entry), c)
	return err
}

// withAccounts returns a database holding accounts A (devices a1 full, a2
// append-only added by entry 1, recovery principal ra) and B (device b1
// full).
func withAccounts(t *testing.T) *SQLite {
	t.Helper()
	return withAccountsAt(t, filepath.Join(t.TempDir(), "meta.db"))
}

// withAccountsAt is withAccounts in the database file at path.
func withAccountsAt(t *testing.T, path string) *SQLite {
	t.Helper()
	db, err := OpenSQLite(path)
	must(t, err)
	t.Cleanup(func() { db.Close() })
	create(t, db, acctA, device("a1", Full), device("ra", Recovery))
	a2 := device("a2", AppendOnly)
	a2.AddedBy = "a1"
	must(t, appendTo(db, acctA, "add a2", Change{At: t0, Add: []Device{a2}}))
	create(t, db, acctB, device("b1", Full))
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
	_, err := db.CreateAccount(ctx, acctA, nil, Change{Add: []Device{device("x", Full)}})
	wantErr(t, "second account A", err, ErrExists)
	wantErr(t, "a1 again", appendTo(db, acctA, "add a1", Change{Add: []Device{device("a1", AppendOnly)}}), ErrExists)
	if n, _, _ := db.ChainHead(ctx, acctA); n != 2 {
		t.Errorf("the refused entry left the chain at %d entries", n)
	}
	must(t, appendTo(db, acctB, "add a1", Change{Add: []Device{device("a1", AppendOnly)}})) // device IDs are per account
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

// TestChanges checks how chain entries change principals: revocation by
// role, devices taking the place of principals, and principals coming back.
func TestChanges(t *testing.T) {
	db := withAccounts(t)
	must(t, db.AddToken(ctx, Hash{1}, acctA, "a2", t0.Add(time.Hour), t0))
	must(t, db.AddChallenge(ctx, Hash{2}, acctA, "a2", t0.Add(time.Hour), t0))
	must(t, db.AddToken(ctx, Hash{3}, acctA, "ra", t0.Add(time.Hour), t0))
	at := t0.Add(time.Minute)
	steps := []struct {
		name string
		c    Change
		want error
	}{
		{"revoke a2", Change{At: at, Revoke: []Device{{ID: "a2", Rights: Full}}}, nil},
		{"revoke a2 again", Change{At: at.Add(time.Hour), Revoke: []Device{{ID: "a2", Rights: Full}}}, nil},
		{"revoke a1 as a contact", Change{At: at, Revoke: []Device{{ID: "a1", Rights: Contact}}}, nil},
		{"revoke unknown", Change{At: at, Revoke: []Device{{ID: "zz", Rights: Recovery}}}, nil},
		{"contact with a device's ID", Change{Add: []Device{device("a1", Contact), device("c1", Contact)}}, nil},
		{"device over a contact", Change{Add: []Device{device("c1", Full)}}, nil},
		{"recovery rotated", Change{At: at, Revoke: []Device{{ID: "ra", Rights: Recovery}}, Add: []Device{device("rb", Recovery)}}, nil},
		{"recovery rotated back", Change{At: at, Revoke: []Device{{ID: "rb", Rights: Recovery}}, Add: []Device{device("ra", Recovery)}}, nil},
		{"revoked device re-added", Change{Add: []Device{device("a2", Full)}}, ErrExists},
		{"revoked device as a contact", Change{Add: []Device{device("a2", Contact)}}, nil},
	}
	for _, st := range steps {
		wantErr(t, st.name, appendTo(db, acctA, st.name, st.c), st.want)
	}
	for _, w := range []struct {
		id     string
		rights Rights
		active bool
	}{
		{"a1", Full, true}, {"a2", AppendOnly, false}, {"c1", Full, true}, {"ra", Recovery, true}, {"rb", Recovery, false},
	} {
		d, err := db.Device(ctx, acctA, w.id)
		if err != nil || d.Rights != w.rights || d.Active() != w.active {
			t.Errorf("%s: %+v, %v; want %s, active %v", w.id, d, err, w.rights, w.active)
		}
	}
	if d, _ := db.Device(ctx, acctA, "a2"); !d.Revoked.Equal(at) {
		t.Errorf("a2 revoked at %v, want the first revocation's time", d.Revoked)
	}
	_, _, err := db.Token(ctx, Hash{1}, t0)
	wantErr(t, "token of a revoked device", err, ErrNotFound)
	wantErr(t, "challenge of a revoked device", db.TakeChallenge(ctx, Hash{2}, acctA, "a2", t0), ErrNotFound)
	_, _, err = db.Token(ctx, Hash{3}, t0)
	wantErr(t, "token of a rotated recovery key", err, ErrNotFound)
	ds, err := db.Devices(ctx, acctA)
	must(t, err)
	if len(ds) != 3 || ds[2].ID != "c1" {
		t.Errorf("devices %+v, want a1, a2, c1 and no other principal", ds)
	}
}

// TestChain checks appends (compare-and-swap on length and head) and
// bounded reads.
func TestChain(t *testing.T) {
	db := withAccounts(t)
	n, head, err := db.ChainHead(ctx, acctA)
	if err != nil || n != 2 || head != sha256.Sum256([]byte("add a2")) {
		t.Fatalf("head %d %x, %v", n, head, err)
	}
	for _, tc := range []struct {
		name string
		seq  uint64
		prev Hash
		want error
	}{
		{"behind", 1, head, ErrConflict},
		{"ahead", 3, head, ErrConflict},
		{"another head", 2, Hash{1}, ErrConflict},
	} {
		got, _, err := db.AppendChain(ctx, acctA, tc.seq, tc.prev, []byte("x"), Change{})
		wantErr(t, tc.name, err, tc.want)
		if got != 2 {
			t.Errorf("%s: length %d, want 2", tc.name, got)
		}
	}
	if _, _, err := db.AppendChain(ctx, acctA, 0, Hash{}, []byte("x"), Change{}); err == nil {
		t.Error("appended entry 0")
	}
	_, _, err = db.AppendChain(ctx, "nosuch", 1, Hash{}, []byte("x"), Change{})
	wantErr(t, "unknown account", err, ErrNotFound)
	for i := range 5 {
		must(t, appendTo(db, acctA, fmt.Sprintf("entry %d", 2+i), Change{}))
	}
	for _, tc := range []struct {
		from           uint64
		maxN, maxBytes int
		want           []string
	}{
		{0, 3, 1000, []string{"genesis of " + acctA, "add a2", "entry 2"}},
		{3, 100, 1000, []string{"entry 3", "entry 4", "entry 5", "entry 6"}},
		{3, 100, 14, []string{"entry 3", "entry 4"}},
		{3, 100, 1, []string{"entry 3"}}, // the first one always
		{7, 100, 1000, nil},
		{1 << 63, 100, 1000, nil},
	} {
		got, err := db.ChainEntries(ctx, acctA, tc.from, tc.maxN, tc.maxBytes)
		if err != nil || fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
			t.Errorf("from %d (%d, %d bytes): %q, %v; want %q", tc.from, tc.maxN, tc.maxBytes, got, err, tc.want)
		}
	}
	_, err = db.ChainEntries(ctx, "nosuch", 0, 1, 1)
	wantErr(t, "entries of an unknown account", err, ErrNotFound)
	_, _, err = db.ChainHead(ctx, "nosuch")
	wantErr(t, "head of an unknown account", err, ErrNotFound)
}

// TestPairings checks the pairing mailbox: creation limits, write-once
// slots, the creator's account, and expiry.
func TestPairings(t *testing.T) {
	db := withAccounts(t)
	exp := t0.Add(time.Minute)
	must(t, db.CreatePairing(ctx, "p1", acctA, exp, t0, 2))
	wantErr(t, "p1 again", db.CreatePairing(ctx, "p1", acctB, exp, t0, 2), ErrExists)
	must(t, db.CreatePairing(ctx, "p2", acctA, exp.Add(time.Hour), t0, 2))
	wantErr(t, "third live pairing", db.CreatePairing(ctx, "p3", acctA, exp, t0, 2), ErrQuota)
	must(t, db.CreatePairing(ctx, "p3", acctB, exp, t0, 2))

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
		{"again", "p1", 1, "", ErrExists},
		{"by the creator", "p1", 2, acctA, nil},
		{"by another account", "p1", 3, acctB, ErrNotFound},
		{"unknown", "px", 1, "", ErrNotFound},
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
	wantErr(t, "expired", err, ErrNotFound)
	wantErr(t, "write after expiry", db.PutPairing(ctx, "p1", 3, "", []byte("x"), exp), ErrNotFound)
	// Creating forgets expired pairings, which no longer count.
	must(t, db.CreatePairing(ctx, "p4", acctA, exp.Add(time.Hour), exp, 2))
	var n int
	must(t, db.db.QueryRow("SELECT COUNT(*) FROM pairing_slots").Scan(&n))
	if n != 0 {
		t.Errorf("%d slots of expired pairings kept", n)
	}
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
	create(t, dbs[0], acctA, device("a1", Full))
	must(t, dbs[1].AddChallenge(ctx, Hash{7}, acctA, "a1", t0.Add(time.Minute), t0))
	_, head, err := dbs[0].ChainHead(ctx, acctA)
	must(t, err)
	var refWins, challengeWins, chainWins atomic.Int32
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
			if _, _, err := db.AppendChain(ctx, acctA, 1, head, []byte{byte(i)}, Change{}); err == nil {
				chainWins.Add(1)
			} else if !errors.Is(err, ErrConflict) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if refWins.Load() != 1 || challengeWins.Load() != 1 || chainWins.Load() != 1 {
		t.Errorf("%d ref creations, %d challenge uses and %d chain appends won, want 1 each", refWins.Load(), challengeWins.Load(), chainWins.Load())
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

// TestUpgrade opens databases of schema versions 1 and 2: they get the
// tables they lack, and the chain entries of a version 2 database are
// logged, account by account.
func TestUpgrade(t *testing.T) {
	const dropV3 = "DROP TABLE names; DROP TABLE log_checkpoint; DROP TABLE log_hashes; DROP TABLE log_leaves;"
	for _, tc := range []struct {
		version int
		drop    string
		leaves  []logged // the leaves the upgrade logs
	}{
		{1, dropV3 + "DROP TABLE pairing_slots; DROP TABLE pairings; DROP TABLE chain;", nil},
		{2, dropV3, []logged{{acctA, 0, "genesis of " + acctA}, {acctA, 1, "add a2"}, {acctB, 0, "genesis of " + acctB}}},
	} {
		path := filepath.Join(t.TempDir(), "meta.db")
		db, err := OpenSQLite(path)
		must(t, err)
		if tc.version == 2 {
			db.Close()
			db = withAccountsAt(t, path)
		}
		_, err = db.db.Exec(fmt.Sprintf("%s PRAGMA user_version = %d", tc.drop, tc.version))
		must(t, err)
		db.Close()
		db, err = OpenSQLite(path)
		must(t, err)
		defer db.Close()
		checkLog(t, db, chainLeaves(t, tc.leaves...))
		if _, err := db.CreateAccount(ctx, accountN(3), []byte("g"), Change{At: t0}); err != nil {
			t.Errorf("version %d upgraded: %v", tc.version, err)
		}
	}
}

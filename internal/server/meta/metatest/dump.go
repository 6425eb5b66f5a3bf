package metatest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/server/meta"
)

// PopulateAll makes, beyond Populate, a row of every table a Dump holds:
// a revoked device, a name, a reference, a token, a challenge, a pairing
// with a written slot, and an object's creator and usage (10 bytes of
// sessions/s1 in AcctB). It neither binds a log key nor publishes.
func PopulateAll(t *testing.T, db meta.DB) {
	t.Helper()
	Populate(t, db)
	later := t0.Add(time.Hour)
	must(t, appendTo(db, AcctA, "revoke a2", meta.Change{At: later, Revoke: []meta.Device{device("a2", meta.AppendOnly)}}))
	_, err := db.RegisterName(ctx, AcctA, "alice", 3, t0)
	must(t, err)
	_, err = db.SwapRef(ctx, AcctA, "latest", []byte("v1"), 0, 10)
	must(t, err)
	must(t, db.AddToken(ctx, meta.Hash{1}, AcctA, "a1", later, t0))
	must(t, db.AddChallenge(ctx, meta.Hash{2}, AcctB, "b1", later, t0))
	must(t, db.CreatePairing(ctx, "pair", AcctB, later, t0, 2))
	must(t, db.PutPairing(ctx, "pair", 1, AcctB, []byte("slot one"), t0))
	r, err := db.Reserve(ctx, AcctB, 10, 0, t0)
	must(t, err)
	must(t, db.Stored(ctx, AcctB, r, meta.Object{Kind: "sessions", Name: "s1", Size: 10, Creator: "b1"}))
}

// populateAll is PopulateAll with a log key bound and a checkpoint (not
// a signed one) stored.
func populateAll(t *testing.T, db meta.DB) {
	t.Helper()
	PopulateAll(t, db)
	must(t, db.BindLogKey(ctx, "log+0000+key"))
	n, err := db.LogSize(ctx)
	must(t, err)
	publish(t, db, &meta.Publication{Size: n, Note: []byte("checkpoint"), At: t0, Witnesses: map[string]uint64{"w": n}})
}

// testExportImport checks that a dump imported into an empty database
// exports equal, that the copy answers as the original (log, chains,
// names) and appends after the copied log, and that a database holding
// data is refused.
func testExportImport(t *testing.T, f *fixture) {
	db := f.open(t)
	populateAll(t, db)
	d, err := db.Export(ctx)
	must(t, err)
	other := (&fixture{Database: f.fresh(t)}).open(t)
	must(t, other.Import(ctx, d))
	d2, err := other.Export(ctx)
	must(t, err)
	if !reflect.DeepEqual(d, d2) {
		t.Errorf("export of the copy differs:\n%v\nwant\n%v", d2, d)
	}
	wantErr(t, "importing twice", other.Import(ctx, d), meta.ErrExists)
	checkCopy(t, db, other)
}

// checkCopy checks that copy answers as db does and that both append the
// same next leaf at the same index.
func checkCopy(t *testing.T, db, copy meta.DB) {
	t.Helper()
	for _, h := range []meta.DB{db, copy} {
		acct, _, err := h.Name(ctx, "alice")
		if err != nil || acct != AcctA {
			t.Errorf("name alice: %s, %v", acct, err)
		}
		if _, _, err := h.Token(ctx, meta.Hash{1}, t0); err != nil {
			t.Errorf("token: %v", err)
		}
		n, head, err := h.ChainHead(ctx, AcctA)
		must(t, err)
		_, idx, err := h.AppendChain(context.Background(), AcctA, n, head, []byte("next"), meta.Change{At: t0})
		must(t, err)
		if idx != 5 {
			t.Errorf("next leaf at index %d, want 5", idx)
		}
	}
	all := []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9} // the stored hashes of 6 leaves
	a, err := db.LogHashes(ctx, all)
	must(t, err)
	b, err := copy.LogHashes(ctx, all)
	must(t, err)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("stored hashes after an append differ: %v, %v", b, a)
	}
}

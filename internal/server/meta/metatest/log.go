package metatest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"

	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/tlog"
)

// logged names a chain entry the log should hold.
type logged struct {
	account string
	seq     uint64
	entry   string
}

func accountN(n int) string { return fmt.Sprintf("%032x", n) }

// chainLeaves returns the chain leaves of entries.
func chainLeaves(t *testing.T, entries ...logged) [][]byte {
	t.Helper()
	var out [][]byte
	for _, e := range entries {
		out = append(out, ChainLeaf(t, e.account, e.seq, []byte(e.entry)))
	}
	return out
}

// ChainLeaf returns the log leaf of entry seq of an account's chain.
func ChainLeaf(t testing.TB, account string, seq uint64, entry []byte) []byte {
	t.Helper()
	id, err := tlog.ParseAccountID(account)
	must(t, err)
	return (&tlog.ChainLeaf{Account: id, Seq: seq, EntryHash: sha256.Sum256(entry)}).Marshal()
}

// memLog is a log kept in memory by x/mod alone.
type memLog []tlog.Hash

func (m memLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = m[x]
	}
	return out, nil
}

// dbHashes reads a database's stored hashes; it is an x/mod
// tlog.HashReader.
type dbHashes struct{ db meta.DB }

func (r dbHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return r.db.LogHashes(ctx, indexes)
}

// CheckLog checks that the database's log holds exactly want and that its
// stored hashes are those x/mod computes for them.
func CheckLog(t *testing.T, db meta.DB, want [][]byte) {
	t.Helper()
	n, err := db.LogSize(ctx)
	must(t, err)
	if n != uint64(len(want)) {
		t.Fatalf("log of %d leaves, want %d", n, len(want))
	}
	if n == 0 {
		return
	}
	got, err := db.LogLeaves(ctx, 0, len(want))
	must(t, err)
	var mem memLog
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("leaf %d: %x, want %x", i, got[i], want[i])
		}
		hs, err := xtlog.StoredHashes(int64(i), want[i], mem)
		must(t, err)
		mem = append(mem, hs...)
	}
	checkHashes(t, db, mem)
	if _, err := db.LogLeaves(ctx, 0, len(want)+1); err == nil {
		t.Error("read a leaf past the end")
	}
}

// checkHashes checks that the database's stored hashes are exactly mem.
func checkHashes(t *testing.T, db meta.DB, mem memLog) {
	t.Helper()
	indexes := make([]int64, len(mem))
	for i := range indexes {
		indexes[i] = int64(i)
	}
	stored, err := db.LogHashes(ctx, indexes)
	must(t, err)
	for i := range mem {
		if stored[i] != mem[i] {
			t.Errorf("stored hash %d: %v, want %v", i, stored[i], mem[i])
		}
	}
	if _, err := db.LogHashes(ctx, []int64{int64(len(mem))}); err == nil {
		t.Error("read a stored hash past the end")
	}
}

// testLogChain checks that every chain entry, genesis included, is logged
// with its index, and that a refused append logs nothing.
func testLogChain(t *testing.T, f *fixture) {
	db := f.populated(t) // A: genesis, add a2; B: genesis
	CheckLog(t, db, chainLeaves(t, logged{AcctA, 0, "genesis of " + AcctA}, logged{AcctA, 1, "add a2"}, logged{AcctB, 0, "genesis of " + AcctB}))
	n, head, err := db.ChainHead(ctx, AcctA)
	must(t, err)
	length, index, err := db.AppendChain(ctx, AcctA, n, head, []byte("entry 2"), meta.Change{At: t0})
	must(t, err)
	if length != 3 || index != 3 {
		t.Errorf("append: length %d, index %d; want 3, 3", length, index)
	}
	if _, _, err := db.AppendChain(ctx, AcctA, n, head, []byte("racing entry 2"), meta.Change{At: t0}); err == nil {
		t.Fatal("a stale append succeeded")
	}
	wantErr(t, "a1 again", appendTo(db, AcctA, "add a1", meta.Change{Add: []meta.Device{device("a1", meta.Full)}}), meta.ErrExists)
	index, err = db.CreateAccount(ctx, accountN(3), []byte("genesis 3"), meta.Change{At: t0})
	must(t, err)
	if index != 4 {
		t.Errorf("genesis of account 3 at index %d, want 4", index)
	}
	CheckLog(t, db, chainLeaves(t, logged{AcctA, 0, "genesis of " + AcctA}, logged{AcctA, 1, "add a2"}, logged{AcctB, 0, "genesis of " + AcctB},
		logged{AcctA, 2, "entry 2"}, logged{accountN(3), 0, "genesis 3"}))
	// Over a tile's worth of leaves, so that stored hashes of level 1 exist.
	for i := range 300 {
		n, head, err := db.ChainHead(ctx, AcctB)
		must(t, err)
		if _, _, err := db.AppendChain(ctx, AcctB, n, head, []byte{byte(i)}, meta.Change{At: t0}); err != nil {
			t.Fatal(err)
		}
	}
	size, err := db.LogSize(ctx)
	must(t, err)
	got, err := xtlog.TreeHash(int64(size), dbHashes{db})
	must(t, err)
	leaves, err := db.LogLeaves(ctx, 0, int(size))
	must(t, err)
	var mem memLog
	for i, l := range leaves {
		hs, err := xtlog.StoredHashes(int64(i), l, mem)
		must(t, err)
		mem = append(mem, hs...)
	}
	if want, _ := xtlog.TreeHash(int64(size), mem); got != want {
		t.Errorf("root of %d leaves: %v, want %v", size, got, want)
	}
}

// testNames checks name registration: first come first served, at most
// max per account, logged with the account's genesis hash.
func testNames(t *testing.T, f *fixture) {
	db := f.populated(t)
	size, err := db.LogSize(ctx)
	must(t, err)
	for i, tc := range []struct {
		account, name string
		err           error
	}{
		{AcctA, "alice", nil},
		{AcctA, "alice", meta.ErrExists},
		{AcctB, "alice", meta.ErrExists},
		{AcctA, "alice2", nil},
		{AcctA, "alice3", meta.ErrQuota},
		{AcctB, "bob", nil},
		{accountN(9), "nobody", meta.ErrNotFound},
	} {
		_, err := db.RegisterName(ctx, tc.account, tc.name, 2, t0)
		wantErr(t, fmt.Sprintf("%d: %s for %s", i, tc.name, tc.account), err, tc.err)
	}
	for i, tc := range []struct {
		name, account string
		index         uint64
	}{{"alice", AcctA, size}, {"alice2", AcctA, size + 1}, {"bob", AcctB, size + 2}} {
		account, index, err := db.Name(ctx, tc.name)
		if err != nil || account != tc.account || index != tc.index {
			t.Errorf("%d: %s → %s at %d, %v; want %s at %d", i, tc.name, account, index, err, tc.account, tc.index)
		}
		leaves, err := db.LogLeaves(ctx, index, 1)
		must(t, err)
		id, _ := tlog.ParseAccountID(tc.account)
		want := &tlog.NameLeaf{NameHash: tlog.NameHash(tc.name), Account: id, GenesisHash: sha256.Sum256([]byte("genesis of " + tc.account))}
		if !bytes.Equal(leaves[0], want.Marshal()) {
			t.Errorf("%s: leaf %x, want %x", tc.name, leaves[0], want.Marshal())
		}
	}
	_, _, err = db.Name(ctx, "carol")
	wantErr(t, "unknown name", err, meta.ErrNotFound)
	if n, _ := db.LogSize(ctx); n != size+3 {
		t.Errorf("log of %d leaves after 3 names, want %d", n, size+3)
	}
}

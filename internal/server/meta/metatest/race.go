package metatest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/server/meta"
)

// racers is how many goroutines race in each contest, half on each of the
// two handles.
const racers = 16

// race runs fn for racers goroutines at once, racer i on dbs[i%2], and
// returns their errors.
func race(dbs [2]meta.DB, fn func(i int, db meta.DB) error) []error {
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = fn(i, dbs[i%2])
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// wins checks that exactly want racers succeeded and that every other one
// failed with loss, and returns the winners.
func wins(t *testing.T, what string, errs []error, want int, loss error) []int {
	t.Helper()
	var won []int
	for i, err := range errs {
		switch {
		case err == nil:
			won = append(won, i)
		case !errors.Is(err, loss):
			t.Errorf("%s: racer %d: %v, want %v", what, i, err, loss)
		}
	}
	if len(won) != want {
		t.Errorf("%s: %d racers won, want %d", what, len(won), want)
	}
	return won
}

// handles returns two handles on the fixture's database, the first
// populated.
func (f *fixture) handles(t *testing.T) [2]meta.DB {
	t.Helper()
	return [2]meta.DB{f.populated(t), f.open(t)}
}

// accepted is a chain entry an append accepted.
type accepted struct {
	seq, index uint64
	entry      []byte
}

// testRaceChainAppends has racers on two handles append to one account's
// chain until each has had 4 entries accepted: the chain then holds them
// at the numbers accepted, and the log exactly their leaves at the indexes
// returned.
func testRaceChainAppends(t *testing.T, f *fixture) {
	dbs := f.handles(t)
	const each = 4
	got := make([][]accepted, racers)
	errs := race(dbs, func(i int, db meta.DB) error {
		for len(got[i]) < each {
			a, err := tryAppend(db, AcctA, fmt.Appendf(nil, "racer %d entry %d", i, len(got[i])))
			if errors.Is(err, meta.ErrConflict) {
				continue
			}
			if err != nil {
				return err
			}
			got[i] = append(got[i], a)
		}
		return nil
	})
	wins(t, "appends", errs, racers, nil)
	want := PopulatedLeaves(t)
	want = append(want, make([][]byte, racers*each)...)
	for _, as := range got {
		for _, a := range as {
			if a.index >= uint64(len(want)) || want[a.index] != nil {
				t.Fatalf("entry %d logged at index %d, out of range or taken", a.seq, a.index)
			}
			want[a.index] = ChainLeaf(t, AcctA, a.seq, a.entry)
			checkEntry(t, dbs[1], AcctA, a)
		}
	}
	CheckLog(t, dbs[1], want)
}

// tryAppend appends entry to the account's chain as it is now.
func tryAppend(db meta.DB, account string, entry []byte) (accepted, error) {
	n, head, err := db.ChainHead(ctx, account)
	if err != nil {
		return accepted{}, err
	}
	_, index, err := db.AppendChain(ctx, account, n, head, entry, meta.Change{At: t0})
	return accepted{seq: n, index: index, entry: entry}, err
}

// checkEntry checks that the chain holds a.entry as entry a.seq.
func checkEntry(t *testing.T, db meta.DB, account string, a accepted) {
	t.Helper()
	es, err := db.ChainEntries(ctx, account, a.seq, 1, 1<<20)
	if err != nil || len(es) != 1 || !bytes.Equal(es[0], a.entry) {
		t.Errorf("entry %d: %q, %v; want %q", a.seq, es, err, a.entry)
	}
}

// testRaceNames races two accounts for one name, then one account for
// more names than it may have: one wins the name, and the account ends
// with exactly max names; the log grows by one leaf per name.
func testRaceNames(t *testing.T, f *fixture) {
	dbs := f.handles(t)
	size, err := dbs[0].LogSize(ctx)
	must(t, err)
	errs := race(dbs, func(i int, db meta.DB) error {
		_, err := db.RegisterName(ctx, []string{AcctA, AcctB}[i/2%2], "shared", 4, t0)
		return err
	})
	won := wins(t, "one name", errs, 1, meta.ErrExists)
	if owner, _, err := dbs[1].Name(ctx, "shared"); len(won) == 1 && (err != nil || owner != []string{AcctA, AcctB}[won[0]/2%2]) {
		t.Errorf("shared belongs to %s (%v), not to the winner", owner, err)
	}
	errs = race(dbs, func(i int, db meta.DB) error {
		_, err := db.RegisterName(ctx, AcctB, fmt.Sprintf("name%d", i), 4, t0)
		return err
	})
	owned := 3
	if len(won) == 1 && won[0]/2%2 == 0 {
		owned = 4 // B does not own "shared"
	}
	wins(t, "names of one account", errs, owned, meta.ErrQuota)
	if n, _ := dbs[0].LogSize(ctx); n != size+1+uint64(owned) {
		t.Errorf("log of %d leaves after %d names, want %d", n, 1+owned, size+1+uint64(owned))
	}
}

// testRaceRefs races creations of one ref, swaps from one version, and
// creations of many refs near the limit.
func testRaceRefs(t *testing.T, f *fixture) {
	dbs := f.handles(t)
	swap := func(name string, version int64) []error {
		return race(dbs, func(i int, db meta.DB) error {
			_, err := db.SwapRef(ctx, AcctA, name, []byte{byte(i)}, version, 5)
			return err
		})
	}
	wins(t, "creations of one ref", swap("r", 0), 1, meta.ErrConflict)
	won := wins(t, "swaps from version 1", swap("r", 1), 1, meta.ErrConflict)
	if v, n, err := dbs[0].Ref(ctx, AcctA, "r"); len(won) == 1 && (err != nil || n != 2 || !bytes.Equal(v, []byte{byte(won[0])})) {
		t.Errorf("ref r: %x version %d (%v), want the winner's at version 2", v, n, err)
	}
	errs := race(dbs, func(i int, db meta.DB) error {
		_, err := db.SwapRef(ctx, AcctA, fmt.Sprintf("r%d", i), nil, 0, 5)
		return err
	})
	wins(t, "creations near the limit", errs, 4, meta.ErrQuota)
}

// testRaceQuota races reservations of 10 bytes each for an account with
// 100 bytes of quota: exactly 10 fit.
func testRaceQuota(t *testing.T, f *fixture) {
	dbs := f.handles(t)
	errs := race(dbs, func(i int, db meta.DB) error {
		_, err := db.Reserve(ctx, AcctA, 10, 100, t0)
		return err
	})
	wins(t, "reservations", errs, 10, meta.ErrQuota)
}

// testRacePairings races pairings of one account past its limit, of one
// id, and writes of one slot.
func testRacePairings(t *testing.T, f *fixture) {
	dbs := f.handles(t)
	exp := t0.Add(time.Minute)
	errs := race(dbs, func(i int, db meta.DB) error {
		return db.CreatePairing(ctx, fmt.Sprintf("a%d", i), AcctA, exp, t0, 3)
	})
	wins(t, "pairings of one account", errs, 3, meta.ErrQuota)
	errs = race(dbs, func(i int, db meta.DB) error {
		return db.CreatePairing(ctx, "same", AcctB, exp, t0, 100)
	})
	wins(t, "pairings of one id", errs, 1, meta.ErrExists)
	errs = race(dbs, func(i int, db meta.DB) error {
		return db.PutPairing(ctx, "same", 1, "", []byte{byte(i)}, t0)
	})
	wins(t, "writes of one slot", errs, 1, meta.ErrExists)
}

// testRaceChallenges races uses of one challenge: one succeeds.
func testRaceChallenges(t *testing.T, f *fixture) {
	dbs := f.handles(t)
	must(t, dbs[1].AddChallenge(ctx, meta.Hash{7}, AcctA, "a1", t0.Add(time.Minute), t0))
	errs := race(dbs, func(i int, db meta.DB) error {
		return db.TakeChallenge(ctx, meta.Hash{7}, AcctA, "a1", t0)
	})
	wins(t, "uses of one challenge", errs, 1, meta.ErrNotFound)
}

// testAppendRate measures chain appends per second through two handles,
// each racer appending to an account of its own, so that they meet only
// at the log, and checks the log afterwards.
func testAppendRate(t *testing.T, f *fixture) {
	dbs := [2]meta.DB{f.open(t), f.open(t)}
	for i := range racers {
		create(t, dbs[i%2], accountN(100+i))
	}
	const d = time.Second
	counts := make([]int, racers)
	start := time.Now()
	errs := race(dbs, func(i int, db meta.DB) error {
		for time.Since(start) < d {
			if _, err := tryAppend(db, accountN(100+i), fmt.Appendf(nil, "%d", counts[i])); err != nil {
				return err
			}
			counts[i]++
		}
		return nil
	})
	elapsed := time.Since(start)
	wins(t, "appenders", errs, racers, nil)
	total := 0
	for _, c := range counts {
		total += c
	}
	t.Logf("%d chain appends in %v through two handles: %.0f appends/s", total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds())
	if n, err := dbs[0].LogSize(ctx); err != nil || n != uint64(racers+total) {
		t.Errorf("log of %d leaves (%v), want %d", n, err, racers+total)
	}
}

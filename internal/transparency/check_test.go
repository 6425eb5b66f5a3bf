package transparency

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/tlog"
)

// t0 is the clock of checks in these tests.
var t0 = time.Unix(1700000000, 0)

// accept runs a Check that must succeed and returns the new state.
func (fx *fixture) accept(t *testing.T, st *State, w Watch) *State {
	t.Helper()
	next, _, err := Check(context.Background(), fx.fetcher, fx.policy, st, w)
	if err != nil {
		t.Fatalf("setting the scene: %v", err)
	}
	return next
}

// at returns w checking at a time.
func at(w Watch, now time.Time) Watch {
	w.Now = now
	return w
}

// checkCase sets a scene (a served log, a saved state, a watch) and says
// what the Check of it must find.
type checkCase struct {
	name  string
	scene func(t *testing.T, fx *fixture) (*State, Watch)
	err   error     // an error it must wrap, if any
	alert AlertKind // the kind of the first alert, with err ErrAlert
	want  func(t *testing.T, rep *Report)
}

func TestCheck(t *testing.T) {
	tests := []checkCase{
		{name: "first use", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.publish(t, aliceLog(t), fx.witness)
			return nil, watchAlice(t, 3)
		}, want: func(t *testing.T, rep *Report) {
			if rep.Size != 5 || rep.Read != 5 || rep.Logged != 3 || rep.Pending != nil || !rep.NameLogged || !slices.Equal(rep.Witnesses, []string{witnessName}) {
				t.Errorf("report %+v", rep)
			}
		}},
		{name: "entry not logged yet", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.publish(t, aliceLog(t), fx.witness)
			return nil, watchAlice(t, 4)
		}, want: func(t *testing.T, rep *Report) {
			if rep.Logged != 3 || !slices.Equal(rep.Pending, []uint64{3}) {
				t.Errorf("report %+v", rep)
			}
		}},
		{name: "pending entry logged later, only new leaves read", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			l := aliceLog(t)
			fx.publish(t, l, fx.witness)
			st := fx.accept(t, nil, at(watchAlice(t, 4), t0))
			fx.cosignAt(t, l.add(t, chainLeaf(bob, 1, entry(bob, 1)), chainLeaf(alice, 3, entry(alice, 3))), fx.witness, t0.Add(48*time.Hour))
			return st, at(watchAlice(t, 4), t0.Add(48*time.Hour))
		}, want: func(t *testing.T, rep *Report) {
			if rep.Read != 2 || rep.Logged != 4 || rep.Pending != nil {
				t.Errorf("report %+v", rep)
			}
		}},
		{name: "pending entry within the limit", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			l := aliceLog(t)
			fx.publish(t, l, fx.witness)
			st := fx.accept(t, nil, at(watchAlice(t, 4), t0))
			fx.cosignAt(t, l, fx.witness, t0.Add(DefaultMaxPending))
			return st, at(watchAlice(t, 4), t0.Add(DefaultMaxPending))
		}},
		{name: "pending entry past the limit", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			l := aliceLog(t)
			fx.publish(t, l, fx.witness)
			st := fx.accept(t, nil, at(watchAlice(t, 4), t0))
			fx.cosignAt(t, l, fx.witness, t0.Add(DefaultMaxPending+time.Minute))
			return st, at(watchAlice(t, 4), t0.Add(DefaultMaxPending+time.Minute))
		}, err: ErrAlert, alert: AlertUnlogged},
		{name: "frozen view: an old checkpoint served after a newer was cosigned", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			l := aliceLog(t)
			old := fx.publish(t, l, fx.witness)
			st := fx.accept(t, nil, watchAlice(t, 3))
			// Another device removes one: entry 3, logged and cosigned,
			// while this device is served the old checkpoint for ever.
			fx.cosignAt(t, l.add(t, chainLeaf(alice, 3, entry(alice, 3))), fx.witness, t0.Add(time.Hour))
			fx.server.set(old, "")
			return st, at(watchAlice(t, 3), t0.Add(40*24*time.Hour))
		}, err: ErrStale},
		{name: "same tree cosigned again is fresh", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			l := aliceLog(t)
			fx.publish(t, l, fx.witness)
			st := fx.accept(t, nil, watchAlice(t, 3))
			fx.cosignAt(t, l, fx.witness, t0.Add(40*24*time.Hour))
			return st, at(watchAlice(t, 3), t0.Add(40*24*time.Hour))
		}, want: func(t *testing.T, rep *Report) {
			if rep.Read != 0 || rep.Size != 5 {
				t.Errorf("report %+v", rep)
			}
		}},
		{name: "stale on first use", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.publish(t, aliceLog(t), fx.witness)
			return nil, at(watchAlice(t, 3), t0.Add(DefaultMaxAge+time.Second))
		}, err: ErrStale},
		{name: "the watch's maximum age", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.publish(t, aliceLog(t), fx.witness)
			w := at(watchAlice(t, 3), t0.Add(2*time.Hour))
			w.MaxAge = time.Hour
			return nil, w
		}, err: ErrStale},
		{name: "cosigned too far in the future", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.cosignAt(t, aliceLog(t), fx.witness, t0.Add(MaxClockSkew+time.Second))
			return nil, watchAlice(t, 3)
		}, err: ErrStale},
		{name: "cosigned slightly in the future", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.cosignAt(t, aliceLog(t), fx.witness, t0.Add(MaxClockSkew))
			return nil, watchAlice(t, 3)
		}},
		{name: "no witness required, no age", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.publish(t, aliceLog(t), fx.witness)
			fx.policy.Threshold = 0
			return nil, at(watchAlice(t, 3), t0.Add(400*24*time.Hour))
		}},
		{name: "growth beyond the bound", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			l := aliceLog(t)
			fx.publish(t, l, fx.witness)
			st := fx.accept(t, nil, watchAlice(t, 3))
			fx.serveCosigned(t, l, 5+tlog.MaxGrowth+1)
			return st, watchAlice(t, 3)
		}, err: ErrGrowth},
		{name: "first use of a tree beyond MaxFirstSize", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.serveCosigned(t, aliceLog(t), tlog.MaxFirstSize+1)
			return nil, watchAlice(t, 3)
		}, err: ErrGrowth},
		{name: "rollback", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			l := aliceLog(t)
			old := fx.publish(t, l, fx.witness)
			st := fx.accept(t, nil, watchAlice(t, 3))
			fx.publish(t, l.add(t, chainLeaf(bob, 1, entry(bob, 1))), fx.witness)
			st = fx.accept(t, st, watchAlice(t, 3))
			fx.server.set(old, "")
			return st, watchAlice(t, 3)
		}, err: ErrRollback},
		{name: "split view at the same size", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.publish(t, aliceLog(t), fx.witness)
			st := fx.accept(t, nil, watchAlice(t, 3))
			fork := new(testLog).add(t,
				nameLeaf(aliceName, alice, entry(alice, 0)),
				chainLeaf(alice, 0, entry(alice, 0)),
				chainLeaf(bob, 0, entry(bob, 9)),
				chainLeaf(alice, 1, entry(alice, 1)),
				chainLeaf(alice, 2, entry(alice, 2)))
			fx.publish(t, fork, fx.newWitness(t))
			return st, watchAlice(t, 3)
		}, err: ErrSplitView},
		{name: "split view in a larger tree", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.publish(t, aliceLog(t), fx.witness)
			st := fx.accept(t, nil, watchAlice(t, 3))
			fork := new(testLog).add(t, chainLeaf(bob, 0, entry(bob, 9)))
			for _, b := range aliceLog(t).leaves {
				fork.add(t, b)
			}
			fx.publish(t, fork.add(t, chainLeaf(bob, 1, entry(bob, 1))), fx.newWitness(t))
			return st, watchAlice(t, 3)
		}, err: tlog.ErrInconsistent},
		{name: "too few cosignatures", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			l := aliceLog(t)
			fx.server.set(published{log: l, size: 5, checkpoint: fx.sign(t, l)}, "")
			return nil, watchAlice(t, 3)
		}, err: tlog.ErrTooFewCosignatures},
		{name: "signed by another log key", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			l := aliceLog(t)
			p := fx.publish(t, l, fx.witness)
			cosigs := p.checkpoint[len(fx.sign(t, l)):]
			skey, _, err := tlog.GenerateLogKey(origin)
			if err != nil {
				t.Fatal(err)
			}
			other, err := tlog.NewLogSigner(skey)
			if err != nil {
				t.Fatal(err)
			}
			signed, err := tlog.Sign(l.checkpoint(t).Body(), other)
			if err != nil {
				t.Fatal(err)
			}
			p.checkpoint = append(signed, cosigs...)
			fx.server.set(p, "")
			return nil, watchAlice(t, 3)
		}, err: tlog.ErrLogSignature},
		{name: "hash tile does not match", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.server.set(fx.publish(t, aliceLog(t), fx.witness), "tile/0/000.p/5")
			return nil, watchAlice(t, 3)
		}, err: tlog.ErrTile},
		{name: "upper tile of a consistency check does not match", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			l := aliceLog(t)
			fx.publish(t, l, fx.witness)
			st := fx.accept(t, nil, watchAlice(t, 3))
			for i := range 300 {
				l.add(t, chainLeaf(bob, i+1, entry(bob, i+1)))
			}
			fx.server.set(fx.publish(t, l, fx.witness), "tile/1/000.p/1")
			return st, watchAlice(t, 3)
		}, err: tlog.ErrTile},
		{name: "entry bundle does not match", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.server.set(fx.publish(t, aliceLog(t), fx.witness), "tile/entries/000.p/5")
			return nil, watchAlice(t, 3)
		}, err: tlog.ErrNotIncluded},
		{name: "malformed leaf", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.publish(t, aliceLog(t).add(t, []byte{1, 9}), fx.witness)
			return nil, watchAlice(t, 3)
		}, err: tlog.ErrMalformed},
		{name: "hidden entry", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.publish(t, aliceLog(t).add(t, chainLeaf(alice, 3, entry(alice, 3))), fx.witness)
			return nil, watchAlice(t, 3)
		}, err: ErrAlert, alert: AlertHidden},
		{name: "ghost entry", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			l := new(testLog).add(t, chainLeaf(alice, 0, entry(alice, 0)), chainLeaf(alice, 1, []byte("ghost")), chainLeaf(alice, 1, entry(alice, 1)))
			fx.publish(t, l, fx.witness)
			return nil, watchAlice(t, 2)
		}, err: ErrAlert, alert: AlertGhost},
		{name: "fork in one scan", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.publish(t, aliceLog(t).add(t, chainLeaf(alice, 1, []byte("fork"))), fx.witness)
			return nil, watchAlice(t, 3)
		}, err: ErrAlert, alert: AlertFork},
		{name: "fork of an entry logged before", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			l := aliceLog(t)
			fx.publish(t, l, fx.witness)
			st := fx.accept(t, nil, watchAlice(t, 3))
			fx.publish(t, l.add(t, chainLeaf(alice, 2, []byte("fork"))), fx.witness)
			return st, watchAlice(t, 3)
		}, err: ErrAlert, alert: AlertFork},
		{name: "chain lacks an entry logged before", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.publish(t, aliceLog(t), fx.witness)
			return fx.accept(t, nil, watchAlice(t, 3)), watchAlice(t, 2)
		}, err: ErrAlert, alert: AlertFork},
		{name: "entry skipped by the log", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.publish(t, new(testLog).add(t, chainLeaf(alice, 0, entry(alice, 0)), chainLeaf(alice, 2, entry(alice, 2))), fx.witness)
			return nil, watchAlice(t, 3)
		}, err: ErrAlert, alert: AlertUnlogged},
		{name: "name mapped to another account", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.publish(t, aliceLog(t).add(t, nameLeaf(aliceName, bob, entry(bob, 0))), fx.witness)
			return nil, watchAlice(t, 3)
		}, err: ErrAlert, alert: AlertName},
		{name: "name mapped to another genesis", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.publish(t, aliceLog(t), fx.witness)
			st := fx.accept(t, nil, watchAlice(t, 3))
			fx.publish(t, aliceLog(t).add(t, nameLeaf(aliceName, alice, []byte("other genesis"))), fx.witness)
			return st, watchAlice(t, 3)
		}, err: ErrAlert, alert: AlertName},
		{name: "another name of another account is not ours", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.publish(t, aliceLog(t).add(t, nameLeaf("bob", bob, entry(bob, 0))), fx.witness)
			return nil, watchAlice(t, 3)
		}, want: func(t *testing.T, rep *Report) {
			if rep.Alerts != nil || !rep.NameLogged {
				t.Errorf("report %+v", rep)
			}
		}},
		{name: "a new name is looked for from leaf 0", scene: func(t *testing.T, fx *fixture) (*State, Watch) {
			fx.publish(t, aliceLog(t), fx.witness)
			w := watchAlice(t, 3)
			w.Name = ""
			return fx.accept(t, nil, w), watchAlice(t, 3)
		}, want: func(t *testing.T, rep *Report) {
			if rep.Read != 5 || !rep.NameLogged {
				t.Errorf("report %+v", rep)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			st, w := tc.scene(t, fx)
			before := marshalOrNil(t, st)
			next, rep, err := Check(context.Background(), fx.fetcher, fx.policy, st, w)
			if !bytes.Equal(before, marshalOrNil(t, st)) {
				t.Fatal("Check modified the saved state it was given")
			}
			if tc.err == nil {
				if err != nil || next == nil {
					t.Fatalf("Check: %v", err)
				}
				if tc.want != nil {
					tc.want(t, rep)
				}
				if _, err := ParseState(marshalOrNil(t, next), origin); err != nil {
					t.Fatalf("new state does not parse: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.err) || next != nil {
				t.Fatalf("got %v and state %v, want %v and no state", err, next != nil, tc.err)
			}
			if tc.alert != 0 && (rep == nil || len(rep.Alerts) == 0 || rep.Alerts[0].Kind != tc.alert) {
				t.Fatalf("report %+v, want a first alert of kind %d", rep, tc.alert)
			}
		})
	}
}

// marshalOrNil returns the state file of a state, nil for none.
func marshalOrNil(t *testing.T, s *State) []byte {
	t.Helper()
	if s == nil {
		return nil
	}
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHiddenEntryMessage: the alert says what happened in the user's terms.
func TestHiddenEntryMessage(t *testing.T) {
	fx := newFixture(t)
	fx.publish(t, aliceLog(t).add(t, chainLeaf(alice, 3, entry(alice, 3))), fx.witness)
	_, rep, err := Check(context.Background(), fx.fetcher, fx.policy, nil, watchAlice(t, 3))
	want := "entry 3 of your account is in the public log (leaf 5) but not in the chain your store showed you (a hidden or ghost entry)"
	if !errors.Is(err, ErrAlert) || !strings.Contains(err.Error(), want) || rep.Alerts[0].Seq != 3 || rep.Alerts[0].Index != 5 {
		t.Fatalf("got %v, %+v", err, rep)
	}
}

// TestAlertsBounded: a log full of hidden entries yields MaxAlerts alerts
// and a count of the rest.
func TestAlertsBounded(t *testing.T) {
	fx := newFixture(t)
	l := aliceLog(t)
	for i := range MaxAlerts + 10 {
		l.add(t, chainLeaf(alice, 3+i, entry(alice, 3+i)))
	}
	fx.publish(t, l, fx.witness)
	_, rep, err := Check(context.Background(), fx.fetcher, fx.policy, nil, watchAlice(t, 3))
	if !errors.Is(err, ErrAlert) || len(rep.Alerts) != MaxAlerts || rep.Suppressed != 10 || !strings.Contains(err.Error(), "(and 71 more)") {
		t.Fatalf("%d alerts, %d suppressed: %v", len(rep.Alerts), rep.Suppressed, err)
	}
}

// TestPersistence: a state saved, then loaded by a new client (a restart)
// continues where it stopped, and keeps each watched account's own scan.
func TestPersistence(t *testing.T) {
	fx := newFixture(t)
	if st, err := LoadState(fx.dir, fx.vkey); st != nil || err != nil {
		t.Fatalf("first use: %v, %v", st, err)
	}
	l := aliceLog(t)
	fx.publish(t, l, fx.witness)
	st := fx.accept(t, nil, at(watchAlice(t, 4), t0))
	if err := st.Save(fx.dir, fx.vkey); err != nil {
		t.Fatal(err)
	}

	restarted, err := NewFetcher(&http.Client{}, fx.url)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadState(fx.dir, fx.vkey)
	if err != nil || !bytes.Equal(marshalOrNil(t, loaded), marshalOrNil(t, st)) {
		t.Fatalf("loaded state differs: %v", err)
	}
	fx.publish(t, l.add(t, chainLeaf(alice, 3, entry(alice, 3)), chainLeaf(bob, 1, entry(bob, 1))), fx.witness)
	next, rep, err := Check(context.Background(), restarted, fx.policy, loaded, at(watchAlice(t, 4), t0.Add(time.Hour)))
	if err != nil || rep.Read != 2 || rep.Logged != 4 || rep.Pending != nil {
		t.Fatalf("after restart: %+v, %v", rep, err)
	}

	bobWatch, err := NewWatch(bob.String(), [][]byte{entry(bob, 0), entry(bob, 1)}, "")
	if err != nil {
		t.Fatal(err)
	}
	both, rep, err := Check(context.Background(), fx.fetcher, fx.policy, next, at(bobWatch, t0))
	if err != nil || rep.Read != 7 || rep.Logged != 2 {
		t.Fatalf("a second account is read from leaf 0: %+v, %v", rep, err)
	}
	if err := both.Save(fx.dir, fx.vkey); err != nil {
		t.Fatal(err)
	}
	loaded, err = LoadState(fx.dir, fx.vkey)
	if err != nil || len(loaded.Accounts) != 2 || loaded.Accounts[alice.String()].Scanned != 7 || len(loaded.Accounts[alice.String()].Entries) != 4 {
		t.Fatalf("both accounts kept: %+v, %v", loaded, err)
	}
}

// TestImpostorKeyKeepsApart: a second log of the same origin under
// another key, trusted on first use with no witness, is checked and saved
// beside the pinned log; the pinned log's next check still starts from
// what this device verified of it, and passes.
func TestImpostorKeyKeepsApart(t *testing.T) {
	fx := newFixture(t)
	fx.publish(t, aliceLog(t), fx.witness)
	if err := fx.accept(t, nil, watchAlice(t, 3)).Save(fx.dir, fx.vkey); err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := tlog.GenerateLogKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	impostorS, err := tlog.NewLogSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	impostorV, err := tlog.NewLogVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	evil := aliceLog(t).add(t, chainLeaf(bob, 1, entry(bob, 1)), chainLeaf(bob, 2, entry(bob, 2)))
	signed, err := tlog.Sign(evil.checkpoint(t).Body(), impostorS)
	if err != nil {
		t.Fatal(err)
	}
	fx.server.set(published{log: evil, size: uint64(len(evil.leaves)), checkpoint: signed}, "")
	st, err := LoadState(fx.dir, vkey)
	if err != nil || st != nil {
		t.Fatalf("the impostor key found a state: %v, %v", st != nil, err)
	}
	next, _, err := Check(context.Background(), fx.fetcher, tlog.Policy{Log: impostorV}, st, watchAlice(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	if err := next.Save(fx.dir, vkey); err != nil {
		t.Fatal(err)
	}

	fx.publish(t, aliceLog(t).add(t, chainLeaf(bob, 1, entry(bob, 1))), fx.witness)
	if st, err = LoadState(fx.dir, fx.vkey); err != nil || st == nil || st.Size != 5 {
		t.Fatalf("the pinned log's state: %+v, %v", st, err)
	}
	if _, rep, err := Check(context.Background(), fx.fetcher, fx.policy, st, watchAlice(t, 3)); err != nil || rep.Read != 1 {
		t.Fatalf("the pinned log after the impostor's check: %+v, %v", rep, err)
	}
}

// TestFresh: at least the threshold of cosignatures must lie between the
// maximum age before the check and MaxClockSkew after it.
func TestFresh(t *testing.T) {
	ago := func(d time.Duration) tlog.Cosignature { return tlog.Cosignature{Name: "w", Time: t0.Add(-d)} }
	tests := []struct {
		name      string
		threshold int
		maxAge    time.Duration
		cosigs    []tlog.Cosignature
		stale     bool
	}{
		{"no witness required", 0, 0, nil, false},
		{"one recent", 1, 0, []tlog.Cosignature{ago(time.Hour)}, false},
		{"one at the maximum age", 1, 0, []tlog.Cosignature{ago(DefaultMaxAge)}, false},
		{"one too old", 1, 0, []tlog.Cosignature{ago(DefaultMaxAge + time.Second)}, true},
		{"one of two recent, need one", 1, 0, []tlog.Cosignature{ago(48 * time.Hour), ago(time.Hour)}, false},
		{"one of two recent, need two", 2, 0, []tlog.Cosignature{ago(time.Hour), ago(48 * time.Hour)}, true},
		{"two recent, need two", 2, 0, []tlog.Cosignature{ago(time.Hour), ago(2 * time.Hour)}, false},
		{"one in the future and one old, need one", 1, 0, []tlog.Cosignature{ago(-time.Hour), ago(48 * time.Hour)}, true},
		{"within the clock skew", 1, 0, []tlog.Cosignature{ago(-MaxClockSkew)}, false},
		{"no timestamp", 1, 0, []tlog.Cosignature{{Name: "w"}}, true},
		{"the watch's maximum age", 1, time.Minute, []tlog.Cosignature{ago(time.Hour)}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := at(Watch{}, t0)
			w.MaxAge = tc.maxAge
			if err := fresh(tc.threshold, tc.cosigs, w); errors.Is(err, ErrStale) != tc.stale || (err != nil) != tc.stale {
				t.Fatalf("got %v, want stale %v", err, tc.stale)
			}
		})
	}
	err := fresh(1, []tlog.Cosignature{ago(40 * 24 * time.Hour)}, at(Watch{}, t0))
	if want := "the log's newest witnessed checkpoint is 960 h old: the server may be hiding newer entries"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
}

package account_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/store"
)

// rotateEntry returns a valid rotate-key entry by f.dev after c.
func (f *fixture) rotateEntry(t *testing.T, c *account.Chain) []byte {
	t.Helper()
	e, err := c.RotateKey(devices.ByDevice(f.dev), [32]byte{1}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// forge returns entry changed by edit and encoded again, signatures as
// they were.
func forge(t *testing.T, entry []byte, edit func(*devices.Entry)) []byte {
	t.Helper()
	e, err := devices.Parse(entry)
	if err != nil {
		t.Fatal(err)
	}
	edit(e)
	return e.Marshal()
}

// TestTrusted: the first time, the store's chain is trusted and saved;
// later the saved chain is only extended, and a store that rolls it back,
// forks it or serves an entry without a valid signature is refused with a
// warning naming the entry, the saved chain kept unchanged.
func TestTrusted(t *testing.T) {
	for _, tc := range []struct {
		name string
		// prepare sets up the home and the store; it returns the
		// entries Trusted must return and the home then hold.
		prepare func(t *testing.T, f *fixture) [][]byte
		warn    error // what the warning wraps; nil for none
		seq     int   // the entry the warning names; -1 for none
		err     bool  // Trusted fails, saving nothing
	}{
		{name: "first use saves the store's chain", prepare: func(t *testing.T, f *fixture) [][]byte {
			f.addDevice(t, "phone")
			return f.c.Entries
		}, seq: -1},
		{name: "first use of a store without a chain", prepare: func(t *testing.T, f *fixture) [][]byte {
			if err := os.Remove(f.chainPath(0)); err != nil {
				t.Fatal(err)
			}
			return nil
		}, err: true},
		{name: "first use of a chain that does not verify", prepare: func(t *testing.T, f *fixture) [][]byte {
			f.replaceEntry(t, 1, forge(t, f.rotateEntry(t, f.c), func(e *devices.Entry) { e.Sig = make([]byte, 64) }))
			return nil
		}, err: true},
		{name: "same chain", prepare: func(t *testing.T, f *fixture) [][]byte {
			save(t, f, f.c)
			return f.c.Entries
		}, seq: -1},
		{name: "sync extends and saves", prepare: func(t *testing.T, f *fixture) [][]byte {
			save(t, f, f.c)
			f.addDevice(t, "phone")
			f.addDevice(t, "desktop")
			return f.c.Entries
		}, seq: -1},
		{name: "last entry withheld", prepare: func(t *testing.T, f *fixture) [][]byte {
			f.addDevice(t, "phone")
			save(t, f, f.c)
			if err := os.Remove(f.chainPath(1)); err != nil {
				t.Fatal(err)
			}
			return f.c.Entries
		}, warn: account.ErrRollback, seq: -1},
		{name: "rolled back to an empty chain", prepare: func(t *testing.T, f *fixture) [][]byte {
			save(t, f, f.c)
			if err := os.Remove(f.chainPath(0)); err != nil {
				t.Fatal(err)
			}
			return f.c.Entries
		}, warn: account.ErrRollback, seq: -1},
		{name: "last entry replaced", prepare: func(t *testing.T, f *fixture) [][]byte {
			before := f.c
			f.addDevice(t, "phone")
			save(t, f, f.c)
			f.replaceEntry(t, 1, f.addEntry(t, before, newDevice(t, "intruder")))
			return f.c.Entries
		}, warn: devices.ErrFork, seq: 1},
		{name: "forked and extended", prepare: func(t *testing.T, f *fixture) [][]byte {
			before := f.c
			f.addDevice(t, "phone")
			save(t, f, f.c)
			other := newDevice(t, "intruder")
			e1 := f.addEntry(t, before, other)
			forked, err := before.Extend([][]byte{before.Entries[0], e1})
			if err != nil {
				t.Fatal(err)
			}
			f.replaceEntry(t, 1, e1)
			f.replaceEntry(t, 2, f.rotateEntry(t, &account.Chain{Chain: forked}))
			return f.c.Entries
		}, warn: devices.ErrFork, seq: 1},
		{name: "entry with a zero signature", prepare: func(t *testing.T, f *fixture) [][]byte {
			save(t, f, f.c)
			f.replaceEntry(t, 1, forge(t, f.rotateEntry(t, f.c), func(e *devices.Entry) { e.Sig = make([]byte, 64) }))
			return f.c.Entries
		}, warn: devices.ErrBadSignature, seq: 1},
		{name: "entry without its signature", prepare: func(t *testing.T, f *fixture) [][]byte {
			save(t, f, f.c)
			e := f.rotateEntry(t, f.c)
			f.replaceEntry(t, 1, e[:len(e)-64])
			return f.c.Entries
		}, warn: devices.ErrMalformed, seq: 1},
		{name: "entry signed in a stranger's name", prepare: func(t *testing.T, f *fixture) [][]byte {
			save(t, f, f.c)
			stranger := newDevice(t, "stranger")
			f.replaceEntry(t, 1, forge(t, f.rotateEntry(t, f.c), func(e *devices.Entry) { e.Signer = stranger.ID }))
			return f.c.Entries
		}, warn: devices.ErrUnknownSigner, seq: 1},
		{name: "entry signed in a removed device's name", prepare: func(t *testing.T, f *fixture) [][]byte {
			phone := f.addDevice(t, "phone")
			c, err := account.RemoveDevice(ctx, f.r, f.c, f.dev, phone.ID)
			if err != nil {
				t.Fatal(err)
			}
			f.c = c
			save(t, f, f.c)
			f.replaceEntry(t, 3, forge(t, f.rotateEntry(t, f.c), func(e *devices.Entry) { e.Signer = phone.ID }))
			return f.c.Entries
		}, warn: devices.ErrRemovedSigner, seq: 3},
		{name: "good entries before a bad one are not taken", prepare: func(t *testing.T, f *fixture) [][]byte {
			save(t, f, f.c)
			saved := f.c.Entries
			f.addDevice(t, "phone")
			f.replaceEntry(t, 2, forge(t, f.rotateEntry(t, f.c), func(e *devices.Entry) { e.Sig = make([]byte, 64) }))
			return saved
		}, warn: devices.ErrBadSignature, seq: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			want := tc.prepare(t, f)
			before, _ := os.ReadFile(filepath.Join(f.h.Dir, "chains", f.acct))
			c, warn, err := account.Trusted(ctx, f.h, store.ChainOf(f.st), f.acct)
			if tc.err {
				if err == nil {
					t.Fatalf("Trusted succeeded with %d entries", c.Len())
				}
				if saved, _ := f.h.Chain(f.acct); saved != nil {
					t.Errorf("a chain of %d entries was saved", len(saved))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkWarning(t, warn, tc.warn, tc.seq)
			if !sameEntries(c.Entries, want) || c.Len() != uint64(len(want)) {
				t.Errorf("Trusted returned %d entries, want %d", len(c.Entries), len(want))
			}
			// Trusted saves nothing: Open saves only once the log agrees.
			if after, _ := os.ReadFile(filepath.Join(f.h.Dir, "chains", f.acct)); !bytes.Equal(before, after) {
				t.Error("Trusted changed the saved chain")
			}
		})
	}
}

func save(t *testing.T, f *fixture, c *account.Chain) {
	t.Helper()
	if err := c.Save(f.h); err != nil {
		t.Fatal(err)
	}
}

// checkWarning requires warn to wrap want (or be nil when want is) and,
// for seq ≥ 0, to name entry seq.
func checkWarning(t *testing.T, warn, want error, seq int) {
	t.Helper()
	if want == nil {
		if warn != nil {
			t.Fatalf("warning: %v", warn)
		}
		return
	}
	if !errors.Is(warn, want) {
		t.Fatalf("warning %v, want %v", warn, want)
	}
	var ee *devices.EntryError
	if seq >= 0 && (!errors.As(warn, &ee) || ee.Seq != uint64(seq)) {
		t.Errorf("warning %v does not name entry %d", warn, seq)
	}
}

// TestSyncKeepsCaller: Sync returns a new chain and leaves the one it
// extends as it was, so a failed sync never changes the verified state.
func TestSyncKeepsCaller(t *testing.T) {
	f := newFixture(t)
	c0 := f.c
	f.addDevice(t, "phone")
	c1, err := c0.Sync(ctx, store.ChainOf(f.st))
	if err != nil {
		t.Fatal(err)
	}
	if c0.Len() != 1 || len(c0.Entries) != 1 || c1.Len() != 2 || !sameEntries(c1.Entries, f.c.Entries) {
		t.Fatalf("Sync: caller %d entries, result %d; want 1 and 2", c0.Len(), c1.Len())
	}
	// Appending on the old chain loses the race the store arbitrates.
	if _, err := c0.Append(ctx, store.ChainOf(f.st), f.rotateEntry(t, c0)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("appending at a taken position: %v, want ErrConflict", err)
	}
	if _, err := c1.Append(ctx, store.ChainOf(f.st), f.rotateEntry(t, c0)); err == nil {
		t.Error("an entry built for another position was appended")
	}
}

// TestMember: current devices are members; removed ones and strangers are
// refused, by Member and by Open.
func TestMember(t *testing.T) {
	f := newFixture(t)
	phone := f.addDevice(t, "phone")
	old := f.addDevice(t, "old")
	c, err := account.RemoveDevice(ctx, f.r, f.c, f.dev, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		dev  *keys.Device
		want error
	}{
		{"creator", f.dev, nil},
		{"added", phone, nil},
		{"removed", old, account.ErrRemoved},
		{"unknown", newDevice(t, "stranger"), account.ErrNotMember},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.Member(tc.dev); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Errorf("Member: %v, want %v", err, tc.want)
			}
			r, _, warn, err := account.Open(ctx, &home.Home{Dir: t.TempDir()}, f.st, tc.dev, "", nil)
			if warn != nil {
				t.Errorf("warning: %v", warn)
			}
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
			if r != nil {
				if r.Epoch() != 1 || r.Config().Account != f.acct {
					t.Errorf("opened account %s at epoch %d", r.Config().Account, r.Epoch())
				}
				r.Close()
			}
		})
	}
}

// TestOpenSavesAfterCheck: Open saves the chain it trusts only after the
// caller's check of it (the transparency log) passes.
func TestOpenSavesAfterCheck(t *testing.T) {
	f := newFixture(t)
	h := &home.Home{Dir: t.TempDir()}
	refuse := func(*account.Chain) (*account.Chain, error) { return nil, errors.New("the log disagrees") }
	if _, _, _, err := account.Open(ctx, h, f.st, f.dev, "", refuse); err == nil {
		t.Fatal("Open succeeded although the check failed")
	}
	if saved, _ := h.Chain(f.acct); saved != nil {
		t.Fatalf("a chain of %d entries was saved before the check passed", len(saved))
	}
	r, _, _, err := account.Open(ctx, h, f.st, f.dev, "", func(c *account.Chain) (*account.Chain, error) { return c, nil })
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if saved, _ := h.Chain(f.acct); !sameEntries(saved, f.c.Entries) {
		t.Errorf("the home holds %d entries after Open, want %d", len(saved), len(f.c.Entries))
	}
}

// endless is a hostile store that serves full pages for ever.
type endless struct {
	calls int
	entry []byte
}

func (e *endless) ChainEntries(_ context.Context, from uint64) ([][]byte, error) {
	e.calls++
	page := make([][]byte, 256)
	for i := range page {
		page[i] = e.entry
	}
	return page, nil
}

func (e *endless) AppendChain(context.Context, uint64, []byte) error { return store.ErrConflict }

// TestHostileChainBounded: a store serving garbage is stopped at its first
// page, and one serving valid-looking but endless pages at the limits.
func TestHostileChainBounded(t *testing.T) {
	f := newFixture(t)
	garbage := &endless{entry: []byte("not an entry")}
	if _, err := account.FirstUse(ctx, garbage, f.acct); err == nil || garbage.calls != 1 {
		t.Errorf("FirstUse on garbage: %v after %d pages, want an error after 1", err, garbage.calls)
	}
	if _, err := f.c.Sync(ctx, garbage); err == nil || garbage.calls > 3 {
		t.Errorf("Sync on garbage: %v after %d pages", err, garbage.calls)
	}
	big := &endless{entry: make([]byte, store.MaxChainEntry)}
	if _, err := store.ReadChain(ctx, big, 0); !errors.Is(err, store.ErrChainTooLarge) {
		t.Errorf("ReadChain of an endless chain: %v", err)
	}
	if big.calls > store.MaxChainBytes/(256*store.MaxChainEntry)+1 {
		t.Errorf("ReadChain read %d pages before stopping", big.calls)
	}
}

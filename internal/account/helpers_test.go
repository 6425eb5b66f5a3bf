package account_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
)

var ctx = context.Background()

// fixture is an account in a real local store, created by dev, whose home
// is h; c is the chain as the store holds it and r the repository dev has
// open.
type fixture struct {
	dir  string
	st   *local.Store
	h    *home.Home
	dev  *keys.Device
	acct string
	rk   *keys.RecoveryKey
	r    *repo.Repo
	c    *account.Chain
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	st, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	dev := newDevice(t, "laptop")
	r, created, err := repo.Create(ctx, st, dev)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	c, err := account.FirstUse(ctx, store.ChainOf(st), created.Account)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{dir: dir, st: st, h: &home.Home{Dir: t.TempDir()}, dev: dev,
		acct: created.Account, rk: created.RecoveryKey, r: r, c: c}
}

func newDevice(t *testing.T, name string) *keys.Device {
	t.Helper()
	d, err := keys.NewDevice(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func countersigner(d *keys.Device) func([]byte) []byte {
	return func(m []byte) []byte { return ed25519.Sign(d.Sign, m) }
}

// addEntry returns the entry by which f.dev adds d after c.
func (f *fixture) addEntry(t *testing.T, c *account.Chain, d *keys.Device) []byte {
	t.Helper()
	e, err := c.AddDevice(devices.ByDevice(f.dev), d.Public(), countersigner(d), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// addDevice makes a fresh device a member: its key wrapped, its entry
// appended; f.c follows.
func (f *fixture) addDevice(t *testing.T, name string) *keys.Device {
	t.Helper()
	d := newDevice(t, name)
	c, err := account.AddSelf(ctx, f.r, f.c, devices.ByDevice(f.dev), d)
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	return d
}

// chainPath is the file of chain entry seq in the local store.
func (f *fixture) chainPath(seq uint64) string {
	return filepath.Join(f.dir, "keys", store.ChainObjectName(seq))
}

// replaceEntry puts b in place of chain entry seq, as the store's operator
// could.
func (f *fixture) replaceEntry(t *testing.T, seq uint64, b []byte) {
	t.Helper()
	p := f.chainPath(seq)
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o400); err != nil {
		t.Fatal(err)
	}
}

// sameEntries reports whether a and b hold the same entries.
func sameEntries(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// keyNames lists the store's objects of kind keys.
func keyNames(t *testing.T, st store.Store) []string {
	t.Helper()
	var names []string
	err := st.List(ctx, store.Keys, func(oi store.ObjectInfo) error {
		names = append(names, oi.Name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

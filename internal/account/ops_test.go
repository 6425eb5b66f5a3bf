package account_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
)

// saveData seals b in r's current epoch and flushes it to the store.
func saveData(t *testing.T, r *repo.Repo, b []byte) blob.ID {
	t.Helper()
	id, _, err := r.SaveBlob(ctx, blob.Data, b)
	if err == nil {
		err = r.Flush(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// readData requires r, freshly opened, to read blob id as want.
func readData(t *testing.T, r *repo.Repo, id blob.ID, want []byte) {
	t.Helper()
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := r.LoadBlob(ctx, blob.Data, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("blob %s reads back different", id.Short())
	}
}

func exists(t *testing.T, st store.Store, name string) bool {
	t.Helper()
	_, err := st.Stat(ctx, store.Keys, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// TestRemoveDevice: a removed device gets no key of the new epoch, while
// the remaining devices and the recovery key open it and read what was
// written in it and before it.
func TestRemoveDevice(t *testing.T) {
	f := newFixture(t)
	phone := f.addDevice(t, "phone")
	desktop := f.addDevice(t, "desktop")
	before := []byte("written in epoch 0")
	oldID := saveData(t, f.r, before)

	c, err := account.RemoveDevice(ctx, f.r, f.c, f.dev, phone.ID)
	if err != nil {
		t.Fatal(err)
	}
	if seq, ok := c.Removed(phone.ID); !ok || seq != 3 || c.Epoch() != 1 || f.r.Epoch() != 1 {
		t.Fatalf("after removal: removed at %d (%v), chain epoch %d, repo epoch %d", seq, ok, c.Epoch(), f.r.Epoch())
	}
	if stored, err := account.FirstUse(ctx, store.ChainOf(f.st), f.acct); err != nil || !sameEntries(stored.Entries, c.Entries) {
		t.Fatalf("the store's chain is not the one returned: %v", err)
	}
	after := []byte("written in epoch 1")
	newID := saveData(t, f.r, after)

	commit, _ := c.Commitment(1)
	if exists(t, f.st, keys.DeviceObjectName(commit, phone.ID)) {
		t.Error("the removed device has the new epoch's key")
	}
	if r, err := repo.OpenChain(ctx, f.st, phone, c.Chain); !errors.Is(err, repo.ErrNoDeviceKey) {
		if r != nil {
			r.Close()
		}
		t.Errorf("the removed device opens the new epoch: %v", err)
	}

	open := map[string]func() (*repo.Repo, error){
		"remaining device": func() (*repo.Repo, error) { return repo.OpenChain(ctx, f.st, desktop, c.Chain) },
		"remover":          func() (*repo.Repo, error) { return repo.OpenChain(ctx, f.st, f.dev, c.Chain) },
		"recovery key":     func() (*repo.Repo, error) { return repo.OpenRecovery(ctx, f.st, f.rk, c.Chain) },
	}
	for name, fn := range open {
		t.Run(name, func(t *testing.T) {
			r, err := fn()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Epoch() != 1 {
				t.Errorf("opened epoch %d, want 1", r.Epoch())
			}
			readData(t, r, oldID, before)
			readData(t, r, newID, after)
		})
	}

	for _, tc := range []struct{ name, id, want string }{
		{"again", phone.ID, "already removed by entry 3"},
		{"unknown", newDevice(t, "stranger").ID, "is not a device of account"},
	} {
		t.Run("refused "+tc.name, func(t *testing.T) {
			_, err := account.RemoveDevice(ctx, f.r, c, f.dev, tc.id)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("RemoveDevice: %v, want %q", err, tc.want)
			}
			if stored, _ := account.FirstUse(ctx, store.ChainOf(f.st), f.acct); stored.Len() != c.Len() {
				t.Errorf("the chain grew to %d entries", stored.Len())
			}
		})
	}
}

// TestRotateRecoveryKey: after a rotation the old recovery key recovers
// nothing and its wrapped keys are gone; the new one recovers a device,
// which then opens the repository.
func TestRotateRecoveryKey(t *testing.T) {
	f := newFixture(t)
	oldRD, err := f.rk.Device()
	if err != nil {
		t.Fatal(err)
	}
	if !hasSuffix(keyNames(t, f.st), ".recovery-"+oldRD.ID) {
		t.Fatal("no key is wrapped to the recovery key before the rotation")
	}
	c, rk, err := account.RotateRecoveryKey(ctx, f.r, f.c, f.dev)
	if err != nil {
		t.Fatal(err)
	}
	newRD, err := rk.Device()
	if err != nil {
		t.Fatal(err)
	}
	if c.Epoch() != 1 || !c.Recovery().Equal(rk.SigningKey().Public()) {
		t.Fatalf("after rotation: epoch %d, recovery key not the new one", c.Epoch())
	}
	names := keyNames(t, f.st)
	if hasSuffix(names, ".recovery-"+oldRD.ID) {
		t.Error("keys wrapped to the old recovery key are still in the store")
	}
	commit, _ := c.Commitment(1)
	if !exists(t, f.st, keys.RecoveryObjectName(commit, newRD.ID)) {
		t.Error("the new epoch is not wrapped to the new recovery key")
	}
	// Even shown the chain from before the rotation, the old key finds
	// nothing to open.
	if r, err := repo.OpenRecovery(ctx, f.st, f.rk, f.c.Chain); !errors.Is(err, repo.ErrNoDeviceKey) {
		if r != nil {
			r.Close()
		}
		t.Errorf("the old key opens the old epoch: %v", err)
	}
	for _, tc := range []struct {
		name string
		rk   *keys.RecoveryKey
		want error
	}{
		{"old key", f.rk, account.ErrNotRecoveryKey},
		{"another account's key", mustRecoveryKey(t), account.ErrNotRecoveryKey},
		{"new key", rk, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev := newDevice(t, "new laptop")
			got, err := account.RecoverWithKey(ctx, f.st, f.acct, tc.rk, dev, nil)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("RecoverWithKey: %v, want %v", err, tc.want)
			}
			if err != nil {
				if _, err := repo.OpenChain(ctx, f.st, dev, mustFirstUse(t, f).Chain); err == nil {
					t.Error("the refused device opens the repository")
				}
				return
			}
			if err := got.Member(dev); err != nil {
				t.Fatal(err)
			}
			r, err := repo.OpenChain(ctx, f.st, dev, got.Chain)
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
		})
	}
}

func hasSuffix(names []string, suffix string) bool {
	for _, n := range names {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return false
}

func mustRecoveryKey(t *testing.T) *keys.RecoveryKey {
	t.Helper()
	rk, err := keys.NewRecoveryKey()
	if err != nil {
		t.Fatal(err)
	}
	return rk
}

func mustFirstUse(t *testing.T, f *fixture) *account.Chain {
	t.Helper()
	c, err := account.FirstUse(ctx, store.ChainOf(f.st), f.acct)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

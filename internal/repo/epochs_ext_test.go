package repo_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
)

// account is a repository whose device chain the test drives: the first
// device, the recovery key, the chain as the test last extended it.
type account struct {
	st    *local.Store
	first *keys.Device
	rk    *keys.RecoveryKey
	chain *devices.Chain
}

func newAccount(t *testing.T) (*account, *repo.Repo) {
	t.Helper()
	st, err := local.Create(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	a := &account{st: st, first: newDevice(t, "first")}
	r, created, err := repo.Create(ctx, st, a.first)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	a.rk, a.chain = created.RecoveryKey, r.Chain()
	return a, r
}

func newDevice(t *testing.T, name string) *keys.Device {
	t.Helper()
	d, err := keys.NewDevice(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// appendEntry appends a chain entry to the store and to a.chain.
func (a *account) appendEntry(t *testing.T, entry []byte) {
	t.Helper()
	if err := store.ChainOf(a.st).AppendChain(ctx, a.chain.Len(), entry); err != nil {
		t.Fatal(err)
	}
	var err error
	if a.chain, err = a.chain.Extend([][]byte{entry}); err != nil {
		t.Fatal(err)
	}
}

// must returns a function that fails the test on error and returns the
// entry otherwise.
func must(t *testing.T) func([]byte, error) []byte {
	return func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// add adds d to the chain, signed by the first device, and wraps the
// current root key to it through r.
func (a *account) add(t *testing.T, r *repo.Repo, d *keys.Device) {
	t.Helper()
	countersign := func(msg []byte) []byte { return ed25519.Sign(d.Sign, msg) }
	a.appendEntry(t, must(t)(a.chain.AddDevice(devices.ByDevice(a.first), d.Public(), countersign, time.Now())))
	if err := r.WrapTo(ctx, d.Public()); err != nil {
		t.Fatal(err)
	}
}

// remove removes d through r, which moves to the next epoch.
func (a *account) remove(t *testing.T, r *repo.Repo, d *keys.Device) {
	t.Helper()
	var members []keys.DevicePublic
	for _, m := range a.chain.Devices() {
		if m.Public.ID != d.ID {
			members = append(members, m.Public)
		}
	}
	p, err := r.NewEpoch(ctx, a.chain, members)
	if err != nil {
		t.Fatal(err)
	}
	a.appendEntry(t, must(t)(a.chain.RemoveDevice(devices.ByDevice(a.first), d.ID, p.Commitment(), time.Now())))
	if err := p.Activate(ctx, a.chain); err != nil {
		t.Fatal(err)
	}
}

// saveFlushed saves a data blob and writes its pack and index.
func saveFlushed(t *testing.T, r *repo.Repo, b []byte) blob.ID {
	t.Helper()
	id, _ := save(t, r, blob.Data, b)
	flush(t, r)
	return id
}

func openAs(t *testing.T, a *account, d *keys.Device) *repo.Repo {
	t.Helper()
	r, err := repo.Open(ctx, a.st, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	loadIndex(t, r)
	return r
}

// TestEpochsRoundTrip writes in epoch 0, removes a device (epoch 1),
// writes again, adds a device, and reads both epochs' data through the
// first device, the new one and the recovery key, while the removed
// device, even shown the chain from before its removal, reads only epoch
// 0.
func TestEpochsRoundTrip(t *testing.T) {
	a, r := newAccount(t)
	removed, joined := newDevice(t, "removed"), newDevice(t, "joined")
	a.add(t, r, removed)
	old := a.chain
	d0, d1 := randomBytes(t, 5000), randomBytes(t, 7000)
	id0 := saveFlushed(t, r, d0)
	a.remove(t, r, removed)
	if r.Epoch() != 1 || r.Chain() != a.chain {
		t.Fatalf("after removal: epoch %d", r.Epoch())
	}
	id1 := saveFlushed(t, r, d1)
	a.add(t, r, joined)

	byRecovery, err := repo.OpenRecovery(ctx, a.st, a.rk, a.chain)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(byRecovery.Close)
	loadIndex(t, byRecovery)
	for name, o := range map[string]*repo.Repo{
		"first device": openAs(t, a, a.first), "joined device": openAs(t, a, joined), "recovery key": byRecovery,
	} {
		oc, _ := o.Chain().Commitment(0)
		rc, _ := r.Chain().Commitment(0)
		if o.Epoch() != 1 || oc != rc || o.Hash(blob.Data, d0) != id0 {
			t.Errorf("%s: epoch %d, or the epoch-0 identity keys differ", name, o.Epoch())
		}
		mustLoad(t, o, blob.Data, id0, d0)
		mustLoad(t, o, blob.Data, id1, d1)
	}

	if _, err := repo.Open(ctx, a.st, removed); !errors.Is(err, repo.ErrNoDeviceKey) {
		t.Fatalf("removed device opened the repository: %v", err)
	}
	rolledBack, err := repo.OpenChain(ctx, a.st, removed, old)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rolledBack.Close)
	if err := rolledBack.LoadIndex(ctx); !errors.Is(err, crypt.ErrAuth) {
		t.Fatalf("removed device read the new epoch's index: %v", err)
	}
	sizes, err := rolledBack.PackSizes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var opened []blob.ID
	for id, size := range sizes {
		entries, err := rolledBack.PackHeader(ctx, id, size)
		if err == nil {
			opened = append(opened, entries[0].ID)
		} else if !errors.Is(err, crypt.ErrAuth) {
			t.Fatal(err)
		}
	}
	if len(sizes) != 2 || len(opened) != 1 || opened[0] != id0 {
		t.Fatalf("removed device opened %d of %d packs: %v, want only the epoch-0 one", len(opened), len(sizes), opened)
	}
	for _, m := range a.chain.Devices() {
		b, err := store.ReadAll(ctx, a.st, store.Keys, keys.DeviceObjectName(commitment(t, a.chain, 1), m.Public.ID), keys.MaxObjectSize)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := keys.UnwrapDevice(b, a.chain.Account(), removed); err == nil {
			t.Fatalf("removed device unwrapped the new root key from %s's object", m.Public.Name)
		}
	}
}

func commitment(t *testing.T, c *devices.Chain, e uint64) [32]byte {
	t.Helper()
	commit, ok := c.Commitment(e)
	if !ok {
		t.Fatalf("no epoch %d", e)
	}
	return commit
}

// replace swaps the bytes of keys/name.
func replace(t *testing.T, st store.Store, name string, b []byte) {
	t.Helper()
	if err := st.Delete(ctx, store.Keys, name); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, store.Keys, name, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
}

// TestKeySubstitution has the store replace the wrapped root key or the
// keyring of epoch 1 with ones that authenticate but hold keys the chain
// does not record, or with other bytes: opening must fail.
func TestKeySubstitution(t *testing.T) {
	a, r := newAccount(t)
	extra := newDevice(t, "extra")
	a.add(t, r, extra)
	a.remove(t, r, extra)
	c1 := commitment(t, a.chain, 1)
	devName, ringName := keys.DeviceObjectName(c1, a.first.ID), keys.KeyringObjectName(c1)
	origDev := readKeys(t, a.st, devName)
	origRing := readKeys(t, a.st, ringName)
	root1, err := keys.UnwrapDevice(origDev, a.chain.Account(), a.first)
	if err != nil {
		t.Fatal(err)
	}
	storeRoot := crypt.Key{0: 0x66}
	storeWrap, err := keys.WrapToDevice(&storeRoot, a.chain.Account(), a.first.Public())
	if err != nil {
		t.Fatal(err)
	}
	storeRing, err := keys.SealKeyring(root1, a.chain.Account(), []crypt.Key{storeRoot})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, obj string
		b         []byte
		want      error
	}{
		{"store's root key wrapped to the device", devName, storeWrap, repo.ErrKeySubstituted},
		{"store's epoch-0 key in the keyring", ringName, storeRing, repo.ErrKeySubstituted},
		{"keyring under another key", ringName, mustSealKeyring(t, &storeRoot, a.chain.Account()), crypt.ErrAuth},
		{"keyring truncated", ringName, origRing[:len(origRing)-1], keys.ErrMalformed},
		{"device object replaced by the keyring", devName, origRing, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			replace(t, a.st, c.obj, c.b)
			defer replace(t, a.st, c.obj, map[string][]byte{devName: origDev, ringName: origRing}[c.obj])
			_, err := repo.Open(ctx, a.st, a.first)
			if err == nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	openAs(t, a, a.first) // the originals, put back, still open
}

func readKeys(t *testing.T, st store.Store, name string) []byte {
	t.Helper()
	b, err := store.ReadAll(ctx, st, store.Keys, name, keys.MaxKeyringSize)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustSealKeyring(t *testing.T, root *crypt.Key, account string) []byte {
	t.Helper()
	b, err := keys.SealKeyring(root, account, []crypt.Key{{}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRotations rotates the root key with no device given (Activate wraps
// it to every member), replaces the recovery key, and rotates again: the
// new epoch is wrapped to the new recovery key, which the old one no
// longer opens.
func TestRotations(t *testing.T) {
	a, r := newAccount(t)
	rotate := func() {
		t.Helper()
		p, err := r.NewEpoch(ctx, a.chain, nil)
		if err != nil {
			t.Fatal(err)
		}
		a.appendEntry(t, must(t)(a.chain.RotateKey(devices.ByDevice(a.first), p.Commitment(), time.Now())))
		if err := p.Activate(ctx, a.chain); err != nil {
			t.Fatal(err)
		}
	}
	rotate()
	d := randomBytes(t, 3000)
	id := saveFlushed(t, r, d)
	mustLoad(t, openAs(t, a, a.first), blob.Data, id, d)

	rk2, err := keys.NewRecoveryKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WrapToRecovery(ctx, rk2); err != nil {
		t.Fatal(err)
	}
	a.appendEntry(t, must(t)(a.chain.RotateRecovery(devices.ByDevice(a.first), rk2, time.Now())))
	rotate()
	if r.Epoch() != 2 {
		t.Fatalf("epoch %d after two rotations", r.Epoch())
	}
	if _, err := repo.OpenRecovery(ctx, a.st, a.rk, a.chain); !errors.Is(err, repo.ErrNotRecoveryKey) {
		t.Fatalf("replaced recovery key: %v", err)
	}
	o, err := repo.OpenRecovery(ctx, a.st, rk2, a.chain)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	loadIndex(t, o)
	mustLoad(t, o, blob.Data, id, d)
}

// TestNewEpochRefuses covers what NewEpoch and Activate refuse.
func TestNewEpochRefuses(t *testing.T) {
	a, r := newAccount(t)
	genesis := a.chain
	stranger := newDevice(t, "stranger")
	if _, err := r.NewEpoch(ctx, a.chain, []keys.DevicePublic{stranger.Public()}); err == nil {
		t.Error("new epoch wrapped to a device outside the chain")
	}
	p, err := r.NewEpoch(ctx, a.chain, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := r.NewEpoch(ctx, a.chain, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.appendEntry(t, must(t)(a.chain.RotateKey(devices.ByDevice(a.first), other.Commitment(), time.Now())))
	if err := p.Activate(ctx, a.chain); err == nil {
		t.Error("activated a key the chain entry does not record")
	}
	if err := other.Activate(ctx, a.chain); err != nil {
		t.Fatal(err)
	}
	if err := other.Activate(ctx, a.chain); err == nil {
		t.Error("activated twice")
	}
	if _, err := r.NewEpoch(ctx, genesis, nil); err == nil {
		t.Error("new epoch on a chain of the previous epoch")
	}

	// The store swaps in the identity of a recovery key of its own.
	c, _ := r.Chain().Commitment(1)
	recID := keys.DeviceID(a.chain.Recovery())
	if _, err := store.ReadAll(ctx, a.st, store.Keys, keys.RecoveryObjectName(c, recID), keys.MaxObjectSize); err != nil {
		t.Fatalf("epoch 1 not wrapped to the recovery key: %v", err)
	}
	storeRK, err := keys.NewRecoveryKey()
	if err != nil {
		t.Fatal(err)
	}
	sd, err := storeRK.Device()
	if err != nil {
		t.Fatal(err)
	}
	replace(t, a.st, keys.RecoveryIdentityObjectName(recID), keys.MarshalIdentity(sd.Public()))
	if _, err := r.NewEpoch(ctx, a.chain, nil); !errors.Is(err, repo.ErrKeySubstituted) {
		t.Errorf("new epoch with a substituted recovery identity: %v", err)
	}
}

// TestCreateRegistered creates an account whose genesis a server already
// holds, and refuses a store whose chain has another genesis.
func TestCreateRegistered(t *testing.T) {
	dev := newDevice(t, "dev")
	for _, c := range []struct {
		name    string
		same    bool
		wantErr error
	}{{"same genesis", true, nil}, {"other genesis", false, store.ErrConflict}} {
		t.Run(c.name, func(t *testing.T) {
			st, err := local.Create(filepath.Join(t.TempDir(), "store"))
			if err != nil {
				t.Fatal(err)
			}
			acct, err := repo.NewAccountID()
			if err != nil {
				t.Fatal(err)
			}
			nk, err := repo.NewAccount(acct, dev)
			if err != nil {
				t.Fatal(err)
			}
			defer nk.Zero()
			registered := nk.Genesis
			if !c.same {
				other, err := repo.NewAccount(acct, dev)
				if err != nil {
					t.Fatal(err)
				}
				registered = other.Genesis
			}
			if err := store.ChainOf(st).AppendChain(ctx, 0, registered); err != nil {
				t.Fatal(err)
			}
			r, created, err := repo.CreateAccount(ctx, st, dev, nk)
			if !errors.Is(err, c.wantErr) || (err == nil) != (c.wantErr == nil) {
				t.Fatalf("got %v, want %v", err, c.wantErr)
			}
			if err != nil {
				return
			}
			r.Close()
			if created.Account != acct || created.RecoveryKey != nk.RecoveryKey {
				t.Fatalf("created %+v", created)
			}
			o, err := repo.Open(ctx, st, dev)
			if err != nil {
				t.Fatal(err)
			}
			o.Close()
		})
	}
}

package account

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
)

// countersigner returns the countersignature callback of dev.
func countersigner(dev *keys.Device) func([]byte) []byte {
	return func(msg []byte) []byte { return ed25519.Sign(dev.Sign, msg) }
}

// newEpoch starts a root-key epoch whose keys go to members only, records
// it with the entry build makes from the new key's commitment, and moves r
// to it. Nothing sealed under the new key can be read by a device left out.
func newEpoch(ctx context.Context, r *repo.Repo, c *Chain, members []keys.DevicePublic, build func(commit [32]byte) ([]byte, error)) (*Chain, error) {
	pe, err := r.NewEpoch(ctx, c.Chain, members)
	if err != nil {
		return nil, err
	}
	entry, err := build(pe.Commitment())
	var n *Chain
	if err == nil {
		n, err = c.Append(ctx, store.ChainOf(r.Store()), entry)
	}
	if err != nil {
		pe.Discard()
		return nil, err
	}
	return n, pe.Activate(ctx, n.Chain)
}

// publics returns the current devices of c other than those in skip.
func (c *Chain) publics(skip ...string) []keys.DevicePublic {
	var out []keys.DevicePublic
	for _, m := range c.Devices() {
		if !contains(skip, m.Public.ID) {
			out = append(out, m.Public)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// RemoveDevice removes device id from the account: a new root-key epoch
// wrapped only to the remaining devices and the recovery key, recorded by a
// remove entry that me signs. From then on the removed device can neither
// authenticate to a server that follows the chain nor read anything new.
func RemoveDevice(ctx context.Context, r *repo.Repo, c *Chain, me *keys.Device, id string) (*Chain, error) {
	if _, ok := c.Device(id); !ok {
		if seq, removed := c.Removed(id); removed {
			return nil, fmt.Errorf("device %s was already removed by entry %d", id, seq)
		}
		return nil, fmt.Errorf("device %s is not a device of account %s", id, c.Account())
	}
	return newEpoch(ctx, r, c, c.publics(id), func(commit [32]byte) ([]byte, error) {
		return c.RemoveDevice(devices.ByDevice(me), id, commit, time.Now())
	})
}

// RotateRecoveryKey replaces the recovery key: a new one, recorded in the
// chain, then a new root-key epoch wrapped to the devices and the new key
// only, and the old key's wrapped copies deleted. The old key can then sign
// nothing and open nothing written afterwards. The caller shows the new key
// once. Once the chain names the new key, RotateRecoveryKey returns it even
// with an error (the new epoch could not be started), so that the caller
// still shows it: the chain then accepts no other.
func RotateRecoveryKey(ctx context.Context, r *repo.Repo, c *Chain, me *keys.Device) (*Chain, *keys.RecoveryKey, error) {
	oldID := keys.DeviceID(c.Recovery())
	rk, err := keys.NewRecoveryKey()
	if err != nil {
		return nil, nil, err
	}
	err = r.WrapToRecovery(ctx, rk)
	var entry []byte
	if err == nil {
		entry, err = c.RotateRecovery(devices.ByDevice(me), rk, time.Now())
	}
	if err == nil {
		c, err = c.Append(ctx, store.ChainOf(r.Store()), entry)
	}
	if err != nil {
		rk.Zero()
		return nil, nil, err
	}
	n, err := retireRecovery(ctx, r, c, me, oldID)
	if err != nil {
		return c, rk, fmt.Errorf("the new recovery key is in the device chain, but the old one's access to data written from now on could not be revoked: %w", err)
	}
	return n, rk, nil
}

// retireRecovery starts a new epoch that only the devices and the chain's
// current recovery key can open, syncing and trying again if another
// device appends first, and deletes the wraps of the former recovery key.
func retireRecovery(ctx context.Context, r *repo.Repo, c *Chain, me *keys.Device, oldID string) (*Chain, error) {
	for attempt := 1; ; attempt++ {
		n, err := newEpoch(ctx, r, c, c.publics(), func(commit [32]byte) ([]byte, error) {
			return c.RotateKey(devices.ByDevice(me), commit, time.Now())
		})
		if errors.Is(err, store.ErrConflict) && attempt < 3 {
			if c, err = c.Sync(ctx, store.ChainOf(r.Store())); err == nil {
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		return n, deleteRecoveryWraps(ctx, r.Store(), oldID)
	}
}

// deleteRecoveryWraps deletes the root keys wrapped to a former recovery
// key, so that it opens nothing even if the store keeps serving them.
func deleteRecoveryWraps(ctx context.Context, st store.Store, recoveryID string) error {
	var names []string
	err := st.List(ctx, store.Keys, func(oi store.ObjectInfo) error {
		if strings.HasSuffix(oi.Name, ".recovery-"+recoveryID) {
			names = append(names, oi.Name)
		}
		return nil
	})
	for _, n := range names {
		if err == nil {
			err = st.Delete(ctx, store.Keys, n)
		}
	}
	if err != nil {
		return fmt.Errorf("deleting the old recovery key's wrapped keys: %w", err)
	}
	return nil
}

// AddSelf makes dev a device of the account on the authority of s, the
// recovery key or a device (such as the recovery contacts' one), whose
// root key r was opened with: the current root key wrapped to dev, then
// the add entry, signed by s and countersigned by dev.
func AddSelf(ctx context.Context, r *repo.Repo, c *Chain, s devices.Signer, dev *keys.Device) (*Chain, error) {
	if _, ok := c.Device(dev.ID); ok {
		return nil, fmt.Errorf("device %s is already a device of account %s", dev.ID, c.Account())
	}
	if err := r.WrapTo(ctx, dev.Public()); err != nil {
		return nil, err
	}
	entry, err := c.AddDevice(s, dev.Public(), countersigner(dev), time.Now())
	if err != nil {
		return nil, err
	}
	return c.Append(ctx, store.ChainOf(r.Store()), entry)
}

// ErrNotRecoveryKey means a recovery key is not the account's current one.
var ErrNotRecoveryKey = errors.New("this is not the account's current recovery key (rotated since, or another account's)")

// ErrContactCodes means the contacts' codes combine into no device of the
// account.
var ErrContactCodes = errors.New("the contact codes do not open this account's recovery contacts (a code is wrong, too few were given, or they are from contacts since replaced)")

// Check is a further check of a chain a device is about to trust, such as
// the transparency log's; it may return the chain synced again.
type Check func(*Chain) (*Chain, error)

// firstUse reads the store's chain of account and runs check, if any, on it.
func firstUse(ctx context.Context, st store.Store, account string, check Check) (*Chain, error) {
	c, err := FirstUse(ctx, store.ChainOf(st), account)
	if err == nil && check != nil {
		c, err = check(c)
	}
	return c, err
}

// RecoverWithKey makes dev, on a machine with no other device, a device of
// account on the authority of the recovery key. st is the account's store,
// opened with the recovery key's identity (rk.Device()). The chain is
// trusted on first use, after check (the transparency log): the recovery
// key must be the one it names and have countersigned it (docs/devices.md
// §D.3); an old prefix of the chain is caught only by check.
func RecoverWithKey(ctx context.Context, st store.Store, account string, rk *keys.RecoveryKey, dev *keys.Device, check Check) (*Chain, error) {
	c, err := firstUse(ctx, st, account, check)
	if err != nil {
		return nil, err
	}
	if !c.Recovery().Equal(rk.SigningKey().Public()) {
		return nil, ErrNotRecoveryKey
	}
	r, err := repo.OpenRecovery(ctx, st, rk, c.Chain)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	s := devices.ByRecovery(rk)
	defer s.Zero()
	return AddSelf(ctx, r, c, s, dev)
}

// RecoverWithContacts makes dev a device of account on the authority of
// the recovery contacts' device dc (CombineCodes). st is the account's
// store, opened as dc.
func RecoverWithContacts(ctx context.Context, st store.Store, account string, dc, dev *keys.Device, check Check) (*Chain, error) {
	c, err := firstUse(ctx, st, account, check)
	if err != nil {
		return nil, err
	}
	if _, ok := c.Device(dc.ID); !ok {
		return nil, ErrContactCodes
	}
	r, err := repo.OpenChain(ctx, st, dc, c.Chain)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return AddSelf(ctx, r, c, devices.ByDevice(dc), dev)
}

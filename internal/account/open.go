package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
)

// Errors about this device's standing in the account.
var (
	ErrRemoved   = errors.New("this device was removed from the account")
	ErrNotMember = errors.New("this device is not in the account's device chain")
)

// Trusted returns the chain this device trusts for account: the one it
// saved, brought up to date from the store; or, the first time, the
// store's own, trusted on first use. If the store's chain does not verify
// against the saved one, Trusted returns the saved chain and the reason as
// warn: the device keeps working with what it verified before. Trusted
// saves nothing: the caller saves the chain once every other check of it
// (the transparency log) has passed.
func Trusted(ctx context.Context, h *home.Home, cs store.Chain, account string) (c *Chain, warn error, err error) {
	saved, err := Verified(h, account)
	if err != nil {
		return nil, nil, err
	}
	if saved == nil {
		c, err = FirstUse(ctx, cs, account)
		return c, nil, err
	}
	c, err = saved.Sync(ctx, cs)
	if err != nil {
		return saved, fmt.Errorf("refusing the store's device chain, keeping the %d entries verified before: %w", saved.Len(), err), nil
	}
	return c, nil, nil
}

// Member checks that dev is a current device of c.
func (c *Chain) Member(dev *keys.Device) error {
	if _, ok := c.Device(dev.ID); ok {
		return nil
	}
	if seq, ok := c.Removed(dev.ID); ok {
		return fmt.Errorf("%w %s by device chain entry %d", ErrRemoved, c.Account(), seq)
	}
	return fmt.Errorf("%w (account %s, device %s)", ErrNotMember, c.Account(), dev.ID)
}

// Open opens the account's repository in st on this device: the trusted
// chain (as Trusted), then check if not nil (the transparency log, which
// may return the chain synced again), membership, then the root keys the
// chain commits to. An empty account is read from the store's
// configuration, which the chain and the root key then authenticate.
func Open(ctx context.Context, h *home.Home, st store.Store, dev *keys.Device, account string, check func(*Chain) (*Chain, error)) (*repo.Repo, *Chain, error, error) {
	if account == "" {
		cfg, err := repo.ReadConfig(ctx, st)
		if err != nil {
			return nil, nil, nil, err
		}
		account = cfg.Account
	}
	c, warn, err := Trusted(ctx, h, store.ChainOf(st), account)
	if err == nil && check != nil {
		c, err = check(c)
	}
	if err == nil {
		err = c.Save(h)
	}
	if err != nil {
		return nil, nil, warn, err
	}
	if err := c.Member(dev); err != nil {
		return nil, nil, warn, err
	}
	r, err := repo.OpenChain(ctx, st, dev, c.Chain)
	if err != nil {
		return nil, nil, warn, err
	}
	if r.Config().Account != account {
		r.Close()
		return nil, nil, warn, fmt.Errorf("the store presents account %s, but the device chain is account %s's: %w", r.Config().Account, account, devices.ErrWrongAccount)
	}
	return r, c, warn, nil
}

// StoreAccount returns the account a directory or S3 store holds, as its
// configuration names it (docs/format.md §9). A store holds one account.
// The name is read before anything is authenticated, but every wrapped key
// and chain entry binds the account ID: a store that names another only
// makes recovery fail.
func StoreAccount(ctx context.Context, st store.Store) (string, error) {
	cfg, err := repo.ReadConfig(ctx, st)
	if err != nil {
		return "", fmt.Errorf("finding the store's account: %w", err)
	}
	return cfg.Account, nil
}

// Package account is an account as this device knows it: the device chain
// it has verified (kept in its home directory), brought up to date from the
// store without ever going back, and the changes this device makes to it:
// adding, removing and recovering devices, rotating keys, and recovery
// contacts (docs/devices.md, docs/security.md).
package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/store"
)

// Chain is a device chain this device has verified, with its entries.
type Chain struct {
	*devices.Chain
	Entries [][]byte
}

// ErrRollback means the store served a shorter chain than this device has
// already verified: it withholds or has rolled back entries.
var ErrRollback = errors.New("the store's device chain is shorter than the one this device verified (rolled back or withheld)")

// Verified returns the chain of account this device saved, verified again,
// or nil if it has none.
func Verified(h *home.Home, account string) (*Chain, error) {
	entries, err := h.Chain(account)
	if err != nil || entries == nil {
		return nil, err
	}
	c, err := devices.Verify(account, entries)
	if err != nil {
		return nil, fmt.Errorf("the device chain saved in %s does not verify: %w", h.Dir, err)
	}
	return &Chain{c, entries}, nil
}

// FirstUse reads and verifies the whole chain of account from the store,
// trusting its genesis on first use: the caller must have another reason
// to believe it (a pairing code, a recovery key, a fingerprint).
func FirstUse(ctx context.Context, cs store.Chain, account string) (*Chain, error) {
	entries, err := store.ReadChain(ctx, cs, 0)
	if err != nil {
		return nil, fmt.Errorf("reading the device chain: %w", err)
	}
	c, err := devices.Verify(account, entries)
	if err != nil {
		return nil, err
	}
	return &Chain{c, entries}, nil
}

// Sync returns c extended by the entries the store has beyond it. The store
// must serve again the last entry c holds, so a store that forks or rolls
// back the chain is caught (devices.ErrFork, ErrRollback). On any error c
// stays the caller's verified state.
func (c *Chain) Sync(ctx context.Context, cs store.Chain) (*Chain, error) {
	from := c.Len() - 1
	fresh, err := store.ReadChain(ctx, cs, from)
	if err != nil {
		return nil, fmt.Errorf("reading the device chain from entry %d: %w", from, err)
	}
	if len(fresh) == 0 {
		return nil, fmt.Errorf("%w: it has no entry %d", ErrRollback, from)
	}
	if devices.Hash(fresh[0]) != c.Head() {
		return nil, &devices.EntryError{Seq: from, Err: fmt.Errorf("the store serves another entry than the one verified: %w", devices.ErrFork)}
	}
	return c.extend(fresh)
}

// extend verifies entries, which start at c's last entry, on top of c.
func (c *Chain) extend(entries [][]byte) (*Chain, error) {
	n, err := c.Extend(entries)
	if err != nil {
		return nil, err
	}
	all := append(c.Entries[:len(c.Entries):len(c.Entries)], entries[1:]...)
	return &Chain{n, all}, nil
}

// Append stores entry as the chain's next entry and returns the extended
// chain. If another device appended first (store.ErrConflict), the caller
// syncs and rebuilds its entry.
func (c *Chain) Append(ctx context.Context, cs store.Chain, entry []byte) (*Chain, error) {
	n, err := c.Extend([][]byte{entry})
	if err != nil {
		return nil, err
	}
	if err := cs.AppendChain(ctx, c.Len(), entry); err != nil {
		return nil, fmt.Errorf("appending device chain entry %d: %w", c.Len(), err)
	}
	all := append(c.Entries[:len(c.Entries):len(c.Entries)], entry)
	return &Chain{n, all}, nil
}

// Save records c as this device's verified chain of its account.
func (c *Chain) Save(h *home.Home) error { return h.SaveChain(c.Account(), c.Entries) }

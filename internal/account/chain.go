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

// Verified returns the chain of account this device saved, replayed
// (devices.Replay: its signatures were checked before it was saved), or
// nil if it has none.
func Verified(h *home.Home, account string) (*Chain, error) {
	entries, err := h.Chain(account)
	if err != nil || entries == nil {
		return nil, err
	}
	c, err := devices.Replay(account, entries)
	if err != nil {
		return nil, fmt.Errorf("the device chain saved in %s does not verify: %w", h.Dir, err)
	}
	return &Chain{c, entries}, nil
}

// FirstUse reads and verifies the whole chain of account from the store,
// trusting its genesis on first use: the caller must have another reason
// to believe it (a pairing code, a recovery key's countersignature, a
// fingerprint, the transparency log).
func FirstUse(ctx context.Context, cs store.ChainReader, account string) (*Chain, error) {
	c, err := readVerified(ctx, cs, &Chain{Chain: nil}, account)
	if err == nil && c.Chain == nil {
		err = &devices.EntryError{Seq: 0, Err: fmt.Errorf("the store has no device chain for account %s: %w", account, devices.ErrMalformed)}
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Sync returns c extended by the entries the store has beyond it. The store
// must serve again the last entry c holds, so a store that forks or rolls
// back the chain is caught (devices.ErrFork, ErrRollback). On any error c
// stays the caller's verified state.
func (c *Chain) Sync(ctx context.Context, cs store.ChainReader) (*Chain, error) {
	from := c.Len() - 1
	page, err := cs.ChainEntries(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("reading the device chain from entry %d: %w", from, err)
	}
	if len(page) == 0 {
		return nil, fmt.Errorf("%w: it has no entry %d", ErrRollback, from)
	}
	if devices.Hash(page[0]) != c.Head() {
		return nil, &devices.EntryError{Seq: from, Err: fmt.Errorf("the store serves another entry than the one verified: %w", devices.ErrFork)}
	}
	return readVerified(ctx, cs, c, c.Account())
}

// readVerified reads the store's entries beyond c a page at a time and
// verifies each page on top of what came before (from genesis if c holds
// nothing), so that a hostile store is stopped at its first bad entry and
// never makes the client hold more than a page unverified, nor more than
// the store's limits in all.
func readVerified(ctx context.Context, cs store.ChainReader, c *Chain, account string) (*Chain, error) {
	size := 0
	for {
		next := uint64(0)
		if c.Chain != nil {
			next = c.Len()
		}
		page, err := cs.ChainEntries(ctx, next)
		if err != nil {
			return nil, fmt.Errorf("reading the device chain from entry %d: %w", next, err)
		}
		if len(page) == 0 {
			return c, nil
		}
		for _, e := range page {
			size += len(e)
		}
		if next+uint64(len(page)) > store.MaxChainEntries || size > store.MaxChainBytes {
			return nil, fmt.Errorf("reading the device chain of account %s: %w", account, store.ErrChainTooLarge)
		}
		var n *devices.Chain
		if c.Chain == nil {
			n, err = devices.Verify(account, page)
		} else {
			n, err = c.Extend(page)
		}
		if err != nil {
			return nil, err
		}
		c = &Chain{n, append(c.Entries[:len(c.Entries):len(c.Entries)], page...)}
	}
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

package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
)

// ErrConflict means a compare-and-swap lost: the state changed under the
// caller, who should re-read and retry.
var ErrConflict = errors.New("conflicting update")

// MaxChainEntry bounds one device-chain entry as stored (docs/devices.md
// §D.2); larger ones are refused before they are read in full.
const MaxChainEntry = 32 << 10

// Chain keeps an account's device chain (docs/devices.md): an append-only
// list of entries numbered from 0. A store only keeps the bytes; clients
// verify them. Implementations must make AppendChain a compare-and-swap on
// the chain's length, so two devices appending at once cannot both win.
type Chain interface {
	ChainReader
	// AppendChain stores entry as number seq. It fails with an error
	// wrapping ErrConflict when the chain does not hold exactly seq
	// entries; a store that checks entries (a server) may refuse one with
	// another error.
	AppendChain(ctx context.Context, seq uint64, entry []byte) error
}

// ChainReader reads a device chain.
type ChainReader interface {
	// ChainEntries returns entries number from, from+1, … in order. It may
	// return fewer than exist (a page); an empty result means there are
	// none from there on.
	ChainEntries(ctx context.Context, from uint64) ([][]byte, error)
}

// ChainOf returns s's own Chain if it keeps one (a server), or else a
// Chain kept as objects "chain-<seq>" of kind Keys, whose exclusive
// creation makes the append a compare-and-swap. A store in front of
// another (Wrapper) is seen through.
func ChainOf(s Store) Chain {
	if c, ok := s.(Chain); ok {
		return c
	}
	if w, ok := s.(Wrapper); ok {
		return ChainOf(w.Unwrap())
	}
	return objectChain{s}
}

// Wrapper is a Store in front of another, such as a local cache
// (internal/store/cache); Unwrap returns the store it fronts.
type Wrapper interface {
	Store
	Unwrap() Store
}

// Bounds on a whole device chain as read from a store: a hostile store
// cannot make a client hold more.
const (
	MaxChainEntries = 1 << 20   // docs/devices.md §D.2
	MaxChainBytes   = 256 << 20 // far above any real chain: about 1.3 M snapshot entries
)

// ErrChainTooLarge means a store served a chain beyond MaxChainEntries or
// MaxChainBytes.
var ErrChainTooLarge = errors.New("device chain exceeds the size limits")

// ReadChain returns every entry of c from number from on, refusing to read
// more than MaxChainEntries entries or MaxChainBytes bytes in all.
func ReadChain(ctx context.Context, c ChainReader, from uint64) ([][]byte, error) {
	var all [][]byte
	var size int
	for {
		page, err := c.ChainEntries(ctx, from+uint64(len(all)))
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			return all, nil
		}
		all = append(all, page...)
		for _, e := range page {
			size += len(e)
		}
		if from+uint64(len(all)) > MaxChainEntries || size > MaxChainBytes {
			return nil, fmt.Errorf("%w: more than %d entries or %d bytes from entry %d", ErrChainTooLarge, MaxChainEntries, MaxChainBytes, from)
		}
	}
}

type objectChain struct{ s Store }

// chainPage bounds the entries objectChain returns at once.
const chainPage = 256

// ChainObjectName is the name, in kind Keys, of chain entry seq in a store
// without a chain of its own: "chain-" and seq in 16 hex digits.
func ChainObjectName(seq uint64) string { return fmt.Sprintf("chain-%016x", seq) }

func (o objectChain) ChainEntries(ctx context.Context, from uint64) ([][]byte, error) {
	var out [][]byte
	for seq := from; len(out) < chainPage; seq++ {
		b, err := ReadAll(ctx, o.s, Keys, ChainObjectName(seq), MaxChainEntry)
		if errors.Is(err, ErrNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func (o objectChain) AppendChain(ctx context.Context, seq uint64, entry []byte) error {
	if seq > 0 {
		if _, err := o.s.Stat(ctx, Keys, ChainObjectName(seq-1)); err != nil {
			if errors.Is(err, ErrNotFound) {
				return fmt.Errorf("chain entry %d: the chain is shorter: %w", seq, ErrConflict)
			}
			return err
		}
	}
	err := o.s.Put(ctx, Keys, ChainObjectName(seq), bytes.NewReader(entry), int64(len(entry)))
	if errors.Is(err, ErrExists) {
		return fmt.Errorf("chain entry %d exists: %w", seq, ErrConflict)
	}
	return err
}

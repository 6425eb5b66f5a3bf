package remote

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store"
)

// maxFrom is the largest entry number a chain read asks for: the server
// takes at most 18 decimal digits, and no chain comes near it.
const maxFrom = 999_999_999_999_999_999

var _ store.Chain = (*Store)(nil)

// ChainEntries returns a page of the account's device chain: entries from,
// from+1, … (at most wire.MaxChainPage of them); an empty page means there
// are none from there on. The entries are as the server keeps them: the
// caller verifies them (internal/devices).
func (s *Store) ChainEntries(ctx context.Context, from uint64) ([][]byte, error) {
	return s.chainPage(ctx, "/v1/chain", from, "reading the device chain")
}

// AccountChain is ChainEntries of another account's chain, which any
// principal of any account may read: it gives a recovery contact's device
// keys. An unknown account is an error wrapping store.ErrNotFound.
func (s *Store) AccountChain(ctx context.Context, account string, from uint64) ([][]byte, error) {
	if err := checkID("account", account); err != nil {
		return nil, err
	}
	return s.chainPage(ctx, "/v1/accounts/"+account+"/chain", from, "reading the device chain of account "+account)
}

// chainPage reads one page at path and checks its shape and size.
func (s *Store) chainPage(ctx context.Context, path string, from uint64, what string) ([][]byte, error) {
	if from > maxFrom {
		return nil, nil
	}
	rq := &request{method: http.MethodGet, path: fmt.Sprintf("%s?from=%d", path, from), what: fmt.Sprintf("%s from entry %d", what, from),
		limit: wire.MaxChainPageJSON}
	var page wire.ChainPage
	if _, err := s.callJSON(ctx, rq, &page); err != nil {
		return nil, err
	}
	if err := checkChainPage(page.Entries); err != nil {
		return nil, fmt.Errorf("%s: malformed answer from %s: %w", rq.what, s.ep, err)
	}
	return page.Entries, nil
}

// checkChainPage checks a page's shape and size (docs/api.md, Device
// chain): at most wire.MaxChainPage entries of 1 to store.MaxChainEntry
// bytes, at most wire.MaxChainPageBytes in all unless there is one.
func checkChainPage(entries [][]byte) error {
	if len(entries) > wire.MaxChainPage {
		return fmt.Errorf("%d entries in a page", len(entries))
	}
	total := 0
	for i, e := range entries {
		if len(e) == 0 || len(e) > store.MaxChainEntry {
			return fmt.Errorf("entry %d of the page has %d bytes", i, len(e))
		}
		total += len(e)
	}
	if total > wire.MaxChainPageBytes && len(entries) > 1 {
		return fmt.Errorf("a page of %d bytes", total)
	}
	return nil
}

// AppendChain stores entry as number seq of the account's device chain
// (store.Chain). It fails with an error wrapping store.ErrConflict when the
// chain does not hold exactly seq entries (the *Error's Length says how
// many it holds), and with a 400 "bad_entry" *Error when the server's
// verifier refuses the entry, or its signer may not sign it
// (docs/devices.md §D.4: an append-only device signs snapshot entries
// only). If a try may have been carried out before a later one failed, the
// append counts as done when the chain holds this very entry at seq.
func (s *Store) AppendChain(ctx context.Context, seq uint64, entry []byte) error {
	if len(entry) == 0 || len(entry) > store.MaxChainEntry {
		return fmt.Errorf("device chain entry %d: %d bytes, not 1 to %d", seq, len(entry), store.MaxChainEntry)
	}
	rq := &request{method: http.MethodPost, path: "/v1/chain", what: fmt.Sprintf("appending device chain entry %d", seq)}
	if err := rq.jsonBody(wire.ChainAppend{Seq: seq, Entry: entry}); err != nil {
		return err
	}
	var out wire.ChainLength
	_, err := s.callJSON(ctx, rq, &out)
	switch {
	case err != nil && rq.ambiguous && s.chainHolds(ctx, seq, entry):
		return nil
	case err != nil:
		return err
	case out.Length != seq+1:
		return fmt.Errorf("%s: malformed answer from %s: the chain holds %d entries", rq.what, s.ep, out.Length)
	}
	return nil
}

// chainHolds reports whether entry seq of the chain is entry.
func (s *Store) chainHolds(ctx context.Context, seq uint64, entry []byte) bool {
	page, err := s.ChainEntries(ctx, seq)
	return err == nil && len(page) > 0 && bytes.Equal(page[0], entry)
}

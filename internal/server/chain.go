package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/wire"
)

// maxCachedChains bounds the verified chains a server keeps in memory; past
// it, the cache starts again empty.
const maxCachedChains = 4096

// chainCache holds the last verified state of accounts' chains, so that an
// append verifies only the new entry. A state is used only while the
// stored chain has the same length and head; otherwise the stored entries
// are verified again (docs/api.md, Device chain).
type chainCache struct {
	mu sync.Mutex
	m  map[string]*devices.Chain
}

func (cc *chainCache) get(account string) *devices.Chain {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.m[account]
}

func (cc *chainCache) put(account string, c *devices.Chain) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.m == nil || len(cc.m) >= maxCachedChains {
		cc.m = make(map[string]*devices.Chain)
	}
	cc.m[account] = c
}

// verifiedChain returns the verified state of an account's stored chain,
// or nil if the account has none (it was registered before device chains).
// A stored chain that does not verify is a server fault.
func (s *Server) verifiedChain(ctx context.Context, account string) (*devices.Chain, error) {
	n, head, err := s.db.ChainHead(ctx, account)
	if err != nil {
		return nil, err
	}
	cached := s.chains.get(account)
	if cached != nil && cached.Len() == n && cached.Head() == head {
		return cached, nil
	}
	if cached != nil && cached.Len() >= n {
		cached = nil // not a prefix of the stored chain
	}
	c, err := s.readChain(ctx, account, cached, n)
	if err != nil && cached != nil {
		c, err = s.readChain(ctx, account, nil, n) // the cached state did not lead to the stored chain
	}
	if err != nil {
		return nil, fmt.Errorf("the stored chain of account %s: %w", account, err)
	}
	if c != nil && (c.Len() != n || c.Head() != head) {
		return nil, fmt.Errorf("the stored chain of account %s changed while it was read", account)
	}
	s.chains.put(account, c)
	return c, nil
}

// readChain verifies the stored entries of an account from c.Len() (0 if c
// is nil) to n, a page at a time, on top of c.
func (s *Server) readChain(ctx context.Context, account string, c *devices.Chain, n uint64) (*devices.Chain, error) {
	from := uint64(0)
	if c != nil {
		from = c.Len()
	}
	for from < n {
		page, err := s.db.ChainEntries(ctx, account, from, s.pageLen, wire.MaxChainPageBytes)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			return nil, fmt.Errorf("entries %d to %d are missing", from, n)
		}
		if c == nil {
			c, err = devices.Verify(account, page)
		} else {
			c, err = c.Extend(page)
		}
		if err != nil {
			return nil, err
		}
		from += uint64(len(page))
	}
	return c, nil
}

// changeOf is what entry e, appended to the verified chain prev (nil for
// a genesis), does to the account's principals (docs/api.md, Principals).
// A device's rights are those of the entry that adds it.
func changeOf(prev *devices.Chain, e *devices.Entry, at time.Time) meta.Change {
	c := meta.Change{At: at}
	switch e.Type {
	case devices.TypeGenesis:
		c.Add = []meta.Device{principal(e.Device, meta.Full, "", at), recoveryPrincipal(e.Recovery, e.Device.ID, at)}
	case devices.TypeAddDevice:
		c.Add = []meta.Device{principal(e.Device, meta.Full, signerID(prev, e), at)}
	case devices.TypeAddAppendOnly:
		c.Add = []meta.Device{principal(e.Device, meta.AppendOnly, signerID(prev, e), at)}
	case devices.TypeRemoveDevice:
		c.Revoke = append([]meta.Device{{ID: e.Remove, Rights: meta.Full}}, endedSessions(prev, func(s devices.Session) bool { return s.Approver == e.Remove })...)
	case devices.TypeRotateRecovery:
		c.Revoke = []meta.Device{{ID: keys.DeviceID(prev.Recovery()), Rights: meta.Recovery}}
		c.Add = []meta.Device{recoveryPrincipal(e.Recovery, signerID(prev, e), at)}
	case devices.TypeWebAccess, devices.TypeWebSession, devices.TypeRevokeSession:
		c = webChange(prev, e, at)
	case devices.TypeSetContacts:
		old, _ := prev.Contacts()
		for _, o := range old {
			if !slices.ContainsFunc(e.Contacts, func(n keys.DevicePublic) bool { return n.ID == o.ID }) {
				c.Revoke = append(c.Revoke, meta.Device{ID: o.ID, Rights: meta.Contact})
			}
		}
		for _, n := range e.Contacts {
			if !slices.ContainsFunc(old, func(o keys.DevicePublic) bool { return o.ID == n.ID }) {
				c.Add = append(c.Add, principal(n, meta.Contact, signerID(prev, e), at))
			}
		}
	}
	return c
}

// principal is the record of a device or contact.
func principal(p keys.DevicePublic, rights meta.Rights, addedBy string, at time.Time) meta.Device {
	return meta.Device{ID: p.ID, SignKey: p.Sign, Name: p.Name, Rights: rights, AddedBy: addedBy, Added: at}
}

// recoveryPrincipal is the record of the recovery principal of key.
func recoveryPrincipal(key ed25519.PublicKey, addedBy string, at time.Time) meta.Device {
	return meta.Device{ID: keys.DeviceID(key), SignKey: key, Name: "recovery key", Rights: meta.Recovery, AddedBy: addedBy, Added: at}
}

// signerID is the principal ID of e's signer: its device, or the recovery
// principal of prev.
func signerID(prev *devices.Chain, e *devices.Entry) string {
	if e.Signer == devices.Recovery {
		return keys.DeviceID(prev.Recovery())
	}
	return e.Signer
}

// getChain handles GET /v1/chain?from=N.
func (s *Server) getChain(c *call) error { return s.serveChain(c, c.account) }

// getAccountChain handles GET /v1/accounts/{account}/chain?from=N.
func (s *Server) getAccountChain(c *call) error { return s.serveChain(c, c.other) }

// serveChain answers a page of an account's chain.
func (s *Server) serveChain(c *call, account string) error {
	from, err := fromParam(c.r.URL.RawQuery)
	if err != nil {
		return err
	}
	page, err := s.db.ChainEntries(c.ctx(), account, from, s.pageLen, wire.MaxChainPageBytes)
	if errors.Is(err, meta.ErrNotFound) {
		return notFound("no such account")
	}
	if err != nil {
		return err
	}
	if page == nil {
		page = [][]byte{}
	}
	return writeJSON(c.w, http.StatusOK, wire.ChainPage{Entries: page})
}

// fromParam parses the query of a chain read: from, a decimal number, 0 if
// absent.
func fromParam(rawQuery string) (uint64, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return 0, badRequest("malformed query")
	}
	v := q.Get("from")
	if v == "" {
		return 0, nil
	}
	n, err := parseDigits(v)
	if err != nil {
		return 0, badRequest("from must be a decimal number")
	}
	return uint64(n), nil
}

// appendChain handles POST /v1/chain: the entry must extend the verified
// stored chain at its current length; its change to the principals is
// made, and its leaf logged, in the transaction that stores it. The answer
// waits for a checkpoint that covers the leaf.
func (s *Server) appendChain(c *call) error {
	var req wire.ChainAppend
	if err := decodeJSON(c, maxChainBody, &req); err != nil {
		return err
	}
	prev, err := s.verifiedChain(c.ctx(), c.account)
	if err != nil {
		return err
	}
	if prev == nil {
		return newError(http.StatusBadRequest, wire.CodeBadEntry, "the account was registered without a device chain")
	}
	e, next, err := s.checkEntry(c, prev, req)
	if err != nil {
		return err
	}
	n, index, err := s.db.AppendChain(c.ctx(), c.account, req.Seq, meta.Hash(prev.Head()), req.Entry, changeOf(prev, e, s.cfg.Now().UTC()))
	if errors.Is(err, meta.ErrConflict) {
		return chainConflict(n, req.Seq)
	}
	if err != nil {
		return err
	}
	s.chains.put(c.account, next)
	s.awaitLogged(c, index)
	return writeJSON(c.w, http.StatusCreated, wire.ChainLength{Length: n})
}

// checkEntry checks that an append-only caller signed the appended entry
// itself and that it goes at the chain's end, then verifies it on top of prev, which also
// checks that its signer has the right to sign it (docs/devices.md §D.4:
// an append-only device signs snapshot entries only). It returns the
// parsed entry and the extended chain.
func (s *Server) checkEntry(c *call, prev *devices.Chain, req wire.ChainAppend) (*devices.Entry, *devices.Chain, error) {
	if req.Seq >= devices.MaxChainLen {
		return nil, nil, newError(http.StatusBadRequest, wire.CodeBadEntry, "a chain holds at most %d entries", devices.MaxChainLen)
	}
	e, err := devices.Parse(req.Entry)
	if err != nil {
		return nil, nil, badEntry(&devices.EntryError{Seq: req.Seq, Err: err})
	}
	if signer := signerID(prev, e); c.dev.Rights == meta.AppendOnly && signer != c.dev.ID {
		return nil, nil, forbidden("an append-only device may send only entries it signed, not one signed by %s", signer)
	}
	if req.Seq != prev.Len() {
		return nil, nil, chainConflict(prev.Len(), req.Seq)
	}
	if e.Seq != req.Seq {
		// Extend would take it for a repeat of an entry it holds.
		return nil, nil, badEntry(&devices.EntryError{Seq: e.Seq, Err: fmt.Errorf("appended at position %d: %w", req.Seq, devices.ErrOutOfOrder)})
	}
	if err := s.checkSessionEntry(e); err != nil {
		return nil, nil, err
	}
	next, err := prev.Extend([][]byte{req.Entry})
	if errors.Is(err, devices.ErrNoRight) {
		return nil, nil, forbidden("%v", err)
	}
	if err != nil {
		return nil, nil, badEntry(err)
	}
	return e, next, nil
}

// chainConflict is the 409 of an append at seq to a chain of length n.
func chainConflict(n, seq uint64) *apiError {
	e := newError(http.StatusConflict, wire.CodeConflict, "the chain holds %d entries; the entry was for position %d", n, seq)
	e.length = &n
	return e
}

package webapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/browse"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/remote"
	"github.com/coffer-backup/coffer/internal/websession"
)

// pollWait is how long one read of a mailbox slot waits on the server.
const pollWait = 25 * time.Second

// SignIn is the browser's side of approving a session over the server
// (docs/web.md, Protocol): it posts the offer, checks and countersigns the
// entry the device asks for, opens the grant, and opens the account's
// repository for reading with the granted keys, logged in as the session.
type SignIn struct {
	Browser *websession.Browser
	Origin  string // the server, which serves the page: scheme://host:port
	// OnCompare learns the comparison code once the device's request is
	// checked, before the browser countersigns.
	OnCompare func(code string, notAfter time.Time)
	Warn      func(error)
	Build     string // the SHA-256 of the running WebAssembly, for Info
}

// Session is a signed-in browser session: the API over the account's
// repository, opened with the grant's keys only.
type Session struct {
	API   *API
	Store *remote.Store
	Repo  *repo.Repo
}

// Close forgets the keys and the token.
func (s *Session) Close() {
	s.Repo.Close()
	_ = s.Store.Close()
}

// Run waits for a device to approve the code, until ctx ends.
func (s *SignIn) Run(ctx context.Context) (*Session, error) {
	relay, err := remote.OpenAnonymous(s.Origin, remote.Timeouts{})
	if err != nil {
		return nil, err
	}
	defer relay.Close()
	g, err := s.exchange(ctx, relay)
	if err != nil {
		return nil, err
	}
	defer g.Zero()
	return s.open(ctx, g)
}

// exchange runs the four slots of the mailbox and returns the grant.
func (s *SignIn) exchange(ctx context.Context, relay *remote.Store) (*websession.Grant, error) {
	b, id := s.Browser, s.Browser.MailboxID()
	offer, err := b.Offer()
	if err != nil {
		return nil, err
	}
	if err := s.putWhenOpen(ctx, relay, id, offer); err != nil {
		return nil, err
	}
	req, err := wait(ctx, relay, id, websession.SlotRequest)
	if err != nil {
		return nil, err
	}
	acc, err := b.Accept(req)
	if err != nil {
		return nil, err
	}
	if s.OnCompare != nil {
		s.OnCompare(acc.Compare, acc.NotAfter)
	}
	cs, err := b.Countersign()
	if err == nil {
		err = relay.PutPairing(ctx, id, int(websession.SlotCountersign), cs)
	}
	if err != nil {
		return nil, err
	}
	sealed, err := wait(ctx, relay, id, websession.SlotGrant)
	if err != nil {
		return nil, err
	}
	return b.OpenGrant(sealed)
}

// putWhenOpen posts the offer once the device has opened the mailbox
// (coffer web approve CODE creates it).
func (s *SignIn) putWhenOpen(ctx context.Context, relay *remote.Store, id string, offer []byte) error {
	for {
		err := relay.PutPairing(ctx, id, int(websession.SlotOffer), offer)
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// wait reads slot of the mailbox, waiting until it is written.
func wait(ctx context.Context, relay *remote.Store, id string, slot byte) ([]byte, error) {
	for {
		b, ok, err := relay.GetPairing(ctx, id, int(slot), pollWait)
		if err != nil || ok {
			return b, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// open logs in as the session and opens the repository with the grant's
// keys. The chain the store serves must hold, at its place, the very
// entry this browser countersigned: that entry's hash commits to every
// entry before it, so the store cannot show another history.
func (s *SignIn) open(ctx context.Context, g *websession.Grant) (*Session, error) {
	st, err := remote.Open(s.Origin, remote.Options{Account: g.Account,
		Session: &remote.Session{ID: g.SessionID, Sign: s.Browser.Sign}})
	if err != nil {
		return nil, err
	}
	c, err := s.chain(ctx, st, g)
	if err != nil {
		st.Close()
		return nil, err
	}
	rk := &repo.ReadKeys{Data: g.DataKeys, ID: g.IDKey, Conf: g.ConfKey}
	r, err := repo.OpenRead(ctx, st, c.Chain, rk)
	if err != nil {
		st.Close()
		return nil, err
	}
	api := &API{B: browse.New(r, c, s.Warn), Info: Info{Mode: "server", Account: g.Account, Expires: g.NotAfter, Build: s.Build}}
	return &Session{API: api, Store: st, Repo: r}, nil
}

// chain reads and verifies the account's chain and finds the session's
// entry in it.
func (s *SignIn) chain(ctx context.Context, st *remote.Store, g *websession.Grant) (*account.Chain, error) {
	c, err := account.FirstUse(ctx, store.ChainOf(st), g.Account)
	if err != nil {
		return nil, err
	}
	entry := s.Browser.Entry()
	for _, e := range c.Entries {
		if bytes.Equal(e, entry) && devices.Hash(e) == g.Entry {
			return c, nil
		}
	}
	return nil, fmt.Errorf("the server's device chain does not hold this session's entry: %w", devices.ErrFork)
}

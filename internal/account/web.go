package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/websession"
)

// Errors of the web operations.
var (
	ErrWebOff         = errors.New("web access is off for this account")
	ErrNotConfirmed   = errors.New("the browser session was not confirmed")
	ErrUnknownSession = errors.New("no such browser session")
)

// SetWebAccess turns the account's web access on or off, by an entry me
// signs; off ends every browser session at once. It is a no-op, returning
// c, when the access is already so.
func SetWebAccess(ctx context.Context, cs store.Chain, c *Chain, me *keys.Device, on bool) (*Chain, error) {
	if cur, _ := c.WebEnabled(); cur == on {
		return c, nil
	}
	return c.AppendBuilt(ctx, cs, func(c *Chain) ([]byte, error) {
		return c.SetWebAccess(devices.ByDevice(me), on, time.Now())
	})
}

// ResolveSession returns the one session whose ID starts with prefix (at
// least 4 hex digits), or ErrUnknownSession.
func (c *Chain) ResolveSession(prefix string) (devices.Session, error) {
	prefix = strings.ToLower(prefix)
	var found []devices.Session
	for _, s := range c.Sessions() {
		if len(prefix) >= 4 && strings.HasPrefix(s.ID, prefix) {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return devices.Session{}, fmt.Errorf("%w starts with %q (give at least 4 hex digits)", ErrUnknownSession, prefix)
	}
	return devices.Session{}, fmt.Errorf("%d browser sessions start with %q: give more digits", len(found), prefix)
}

// RevokeSession ends the browser session whose ID starts with prefix, by
// an entry me signs; the server drops its tokens when it stores the entry.
func RevokeSession(ctx context.Context, cs store.Chain, c *Chain, me *keys.Device, prefix string) (*Chain, devices.Session, error) {
	s, err := c.ResolveSession(prefix)
	if err != nil {
		return nil, s, err
	}
	if s.Revoked != 0 {
		return nil, s, fmt.Errorf("browser session %s already ended at chain entry %d", s.ID, s.Revoked)
	}
	n, err := c.AppendBuilt(ctx, cs, func(c *Chain) ([]byte, error) {
		return c.RevokeSession(devices.ByDevice(me), s.ID, time.Now())
	})
	return n, s, err
}

// WebApproval is what a user confirms before a browser session is
// appended: the comparison code the browser must also show, and the
// session asked for.
type WebApproval struct {
	Compare string
	Session devices.WebSession
}

// Approver is the trusted device's side of approving a browser session
// (docs/web.md, Protocol).
type Approver struct {
	Relay    Relay
	Store    store.Chain
	Chain    *Chain
	Repo     *repo.Repo // its read keys are granted
	Me       *keys.Device
	Length   time.Duration // of the session, at most devices.MaxSessionLength
	Deadline time.Time     // for the browser's messages
	// Confirm is called once the entry is built and sent to the browser,
	// before anything is appended; a non-nil error abandons the approval.
	Confirm func(WebApproval) error
}

// Approve opens the mailbox of code, receives the browser's offer, sends
// it the entry to countersign, has the user confirm the comparison code,
// appends the countersigned entry and sends the browser its sealed grant.
// It returns the extended chain and the session.
func (a *Approver) Approve(ctx context.Context, code string) (*Chain, devices.Session, error) {
	if on, _ := a.Chain.WebEnabled(); !on {
		return nil, devices.Session{}, ErrWebOff
	}
	if a.Length <= 0 || a.Length > devices.MaxSessionLength {
		return nil, devices.Session{}, fmt.Errorf("a browser session lasts up to %s, not %s", devices.MaxSessionLength, a.Length)
	}
	c, err := websession.ParseCode(code)
	if err != nil {
		return nil, devices.Session{}, err
	}
	defer c.Zero()
	if err := a.Relay.CreatePairing(ctx, c.ID(), time.Until(a.Deadline)); err != nil {
		return nil, devices.Session{}, fmt.Errorf("opening the session's mailbox on the server: %w", err)
	}
	raw, err := receive(ctx, a.Relay, c, websession.SlotOffer, a.Deadline)
	if err != nil {
		return nil, devices.Session{}, err
	}
	offer, err := websession.ParseOffer(raw)
	if err != nil {
		return nil, devices.Session{}, err
	}
	pending, err := a.request(ctx, c, raw, offer)
	if err != nil {
		return nil, devices.Session{}, err
	}
	return a.finish(ctx, c, offer, pending)
}

// request builds and sends the entry to countersign, then asks the user.
func (a *Approver) request(ctx context.Context, c *websession.Code, raw []byte, offer websession.Offer) (*devices.PendingSession, error) {
	now := time.Now()
	ws := devices.WebSession{ID: offer.SessionID(), Sign: offer.Sign, KEM: offer.KEM, Scope: devices.ScopeRead, NotBefore: now, NotAfter: now.Add(a.Length)}
	if a.Repo.Epoch() != a.Chain.Epoch() {
		return nil, fmt.Errorf("the repository is open at epoch %d, the chain is at %d: run the command again", a.Repo.Epoch(), a.Chain.Epoch())
	}
	pending, err := a.Chain.PrepareSession(devices.ByDevice(a.Me), ws, now)
	if err != nil {
		return nil, err
	}
	sealed, err := websession.SealRequest(c, pending, a.Me.Public().Sign)
	if err == nil {
		err = a.Relay.PutPairing(ctx, c.ID(), int(websession.SlotRequest), sealed)
	}
	if err != nil {
		return nil, fmt.Errorf("sending the entry to countersign: %w", err)
	}
	ws.Epoch = a.Chain.Epoch()
	if err := a.Confirm(WebApproval{Compare: websession.CompareCode(c, raw, pending.SignedPart()), Session: ws}); err != nil {
		return nil, err
	}
	return pending, nil
}

// finish receives the countersignature, appends the entry and sends the
// grant.
func (a *Approver) finish(ctx context.Context, c *websession.Code, offer websession.Offer, pending *devices.PendingSession) (*Chain, devices.Session, error) {
	raw, err := receive(ctx, a.Relay, c, websession.SlotCountersign, a.Deadline)
	if err != nil {
		return nil, devices.Session{}, err
	}
	cs, err := websession.ParseCountersign(raw)
	if err != nil {
		return nil, devices.Session{}, err
	}
	entry, err := pending.Finish(cs)
	if err != nil {
		return nil, devices.Session{}, err
	}
	n, err := a.Chain.Append(ctx, a.Store, entry)
	if err != nil {
		return nil, devices.Session{}, err
	}
	s, _ := n.Session(offer.SessionID())
	if err := a.grant(ctx, c, offer, s, entry); err != nil {
		return n, s, err
	}
	return n, s, nil
}

// grant seals the read keys to the browser and sends them.
func (a *Approver) grant(ctx context.Context, c *websession.Code, offer websession.Offer, s devices.Session, entry []byte) error {
	k, err := a.Repo.ReadKeys()
	if err != nil {
		return err
	}
	defer k.Zero()
	g := &websession.Grant{Account: a.Chain.Account(), SessionID: s.ID, Entry: devices.Hash(entry), NotBefore: s.NotBefore, NotAfter: s.NotAfter,
		DataKeys: k.Data, IDKey: k.ID, ConfKey: k.Conf}
	sealed, err := websession.SealGrant(c, g, a.Me.Sign, offer)
	if err == nil {
		err = a.Relay.PutPairing(ctx, c.ID(), int(websession.SlotGrant), sealed)
	}
	if err != nil {
		return fmt.Errorf("sending the browser its keys (the session is in the chain; revoke it if the browser never gets them): %w", err)
	}
	return nil
}

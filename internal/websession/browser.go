package websession

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
)

// ErrState is returned by a Browser method called out of order.
var ErrState = errors.New("web session step out of order")

// Browser is the browser's side of a session: its ephemeral keys, held in
// memory only, and the state of the exchange. It is not safe for
// concurrent use.
type Browser struct {
	code     *Code
	sign     ed25519.PrivateKey
	kem      hpke.PrivateKey
	offer    Offer
	accepted *Accepted
	req      Request
	entry    []byte // the complete session entry, once countersigned
}

// Accepted is what Browser.Accept checked in the entry to countersign: the
// page shows Compare, and may show the rest.
type Accepted struct {
	Compare   string // comparison code; the device shows the same one
	Account   string
	SessionID string
	Approver  string // DeviceID of the device that signed the entry
	Seq       uint64 // the entry's position in the chain
	NotBefore time.Time
	NotAfter  time.Time
	Epoch     uint64 // data keys of epochs 0 to Epoch will be granted
}

// NewBrowser draws the browser's Ed25519 key, its MLKEM768-X25519 key and
// the session code from rand (crypto/rand.Reader outside tests).
func NewBrowser(rand io.Reader) (*Browser, error) {
	_, sign, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("drawing the session's signing key: %w", err)
	}
	seed := make([]byte, 32)
	defer clear(seed)
	if _, err := io.ReadFull(rand, seed); err != nil {
		return nil, fmt.Errorf("drawing the session's HPKE key: %w", err)
	}
	kem, err := hpke.MLKEM768X25519().NewPrivateKey(seed)
	if err != nil {
		return nil, fmt.Errorf("making the session's HPKE key: %w", err)
	}
	code, err := NewCode(rand)
	if err != nil {
		return nil, err
	}
	offer := Offer{Sign: sign.Public().(ed25519.PublicKey), KEM: kem.PublicKey().Bytes()}
	return &Browser{code: code, sign: sign, kem: kem, offer: offer}, nil
}

// Code returns the session code to show (and to put in the QR code).
func (b *Browser) Code() string { return b.code.String() }

// MailboxID returns the pairing mailbox the exchange uses.
func (b *Browser) MailboxID() string { return b.code.ID() }

// SessionID returns the session's ID, the principal it authenticates as.
func (b *Browser) SessionID() string { return b.offer.SessionID() }

// Offer returns the sealed slot-1 message.
func (b *Browser) Offer() ([]byte, error) { return b.code.Seal(SlotOffer, b.offer.Marshal()) }

// Accept opens the sealed slot-2 message and checks that it asks this
// browser to countersign a read-only browser-session entry naming exactly
// its keys, signed by the approver it names. It returns the comparison
// code to show. The browser countersigns nothing Accept refused.
func (b *Browser) Accept(sealed []byte) (*Accepted, error) {
	msg, err := b.code.Open(SlotRequest, sealed)
	if err != nil {
		return nil, err
	}
	req, err := ParseRequest(msg)
	if err != nil {
		return nil, err
	}
	e, err := devices.ParseSessionRequest(req.SignedPart, req.Approver, req.Sig)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	s := e.Session
	switch {
	case !bytes.Equal(s.Sign, b.offer.Sign) || !bytes.Equal(s.KEM, b.offer.KEM):
		return nil, fmt.Errorf("the entry names session %s, not this browser's keys: %w", s.ID, ErrRefused)
	case s.Scope != devices.ScopeRead || s.NotAfter.Sub(s.NotBefore) > devices.MaxSessionLength:
		return nil, fmt.Errorf("the entry is not a read-only session of at most %s: %w", devices.MaxSessionLength, ErrRefused)
	}
	b.req = req
	b.accepted = &Accepted{
		Compare: CompareCode(b.code, b.offer.Marshal(), req.SignedPart), Account: e.Account, SessionID: s.ID,
		Approver: e.Signer, Seq: e.Seq, NotBefore: s.NotBefore, NotAfter: s.NotAfter, Epoch: s.Epoch,
	}
	return b.accepted, nil
}

// Countersign returns the sealed slot-3 message: the browser's
// countersignature of the entry Accept checked.
func (b *Browser) Countersign() ([]byte, error) {
	if b.accepted == nil {
		return nil, fmt.Errorf("countersigning before accepting an entry: %w", ErrState)
	}
	cs := ed25519.Sign(b.sign, devices.CountersignMessage(b.req.SignedPart))
	b.entry = append(append(bytes.Clone(b.req.SignedPart), b.req.Sig...), cs...)
	return b.code.Seal(SlotCountersign, cs)
}

// Entry returns the complete session entry once countersigned: the one the
// chain must hold at Accepted.Seq for the session to exist.
func (b *Browser) Entry() []byte { return bytes.Clone(b.entry) }

// OpenGrant opens the sealed slot-4 message and returns the grant, after
// checking, before parsing it, that it is signed by the entry's approver,
// and then that it is for this account and session, names the entry this
// browser countersigned, has that entry's validity and the keys of its
// epochs, and is signed by the entry's approver.
func (b *Browser) OpenGrant(sealed []byte) (*Grant, error) {
	if b.entry == nil {
		return nil, fmt.Errorf("opening a grant before countersigning: %w", ErrState)
	}
	msg, err := b.code.Open(SlotGrant, sealed)
	if err != nil {
		return nil, err
	}
	a := b.accepted
	pt, err := hpke.Open(b.kem, hpke.HKDFSHA256(), hpke.AES256GCM(), grantInfo(a.Account, a.SessionID), msg)
	if err != nil {
		return nil, fmt.Errorf("the grant does not open with this session's key: %w", ErrRefused)
	}
	defer clear(pt)
	body, err := verifyGrant(pt, b.req.Approver)
	if err != nil {
		return nil, err
	}
	g, err := parseGrant(body)
	if err != nil {
		return nil, err
	}
	g.Approver = keys.DeviceID(b.req.Approver)
	if err := b.checkGrant(g); err != nil {
		g.Zero()
		return nil, err
	}
	return g, nil
}

// checkGrant compares a parsed grant with the accepted entry.
func (b *Browser) checkGrant(g *Grant) error {
	a := b.accepted
	switch {
	case g.Account != a.Account || g.SessionID != a.SessionID:
		return fmt.Errorf("grant for another account or session: %w", ErrRefused)
	case g.Entry != devices.Hash(b.entry):
		return fmt.Errorf("grant names another entry than the one countersigned: %w", ErrRefused)
	case !g.NotBefore.Equal(a.NotBefore) || !g.NotAfter.Equal(a.NotAfter):
		return fmt.Errorf("grant's validity differs from the entry's: %w", ErrRefused)
	case uint64(len(g.DataKeys)) != a.Epoch+1:
		return fmt.Errorf("grant holds %d epochs' keys, the entry grants %d: %w", len(g.DataKeys), a.Epoch+1, ErrRefused)
	}
	return nil
}

// Sign signs msg with the session's key, for the server's challenge
// (wire.AuthMessage(account, b.SessionID(), challenge)).
func (b *Browser) Sign(msg []byte) []byte { return ed25519.Sign(b.sign, msg) }

// Zero overwrites the code and the signing key; the HPKE key's state is
// left to the garbage collector. The Browser must not be used afterwards.
func (b *Browser) Zero() {
	b.code.Zero()
	clear(b.sign)
}

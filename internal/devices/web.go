package devices

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/coffer-backup/coffer/internal/binread"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/keys"
)

// Browser sessions (docs/devices.md §D.1, §D.5; docs/web.md, Protocol).
const (
	// ScopeRead is the only scope a session can have: it may read the
	// account's objects, chain and log, and nothing else.
	ScopeRead byte = 1
	// MaxSessionLength bounds not-after minus not-before of a session.
	MaxSessionLength = 24 * time.Hour
	// DefaultSessionLength is the length `coffer web approve` grants
	// unless told otherwise.
	DefaultSessionLength = time.Hour
)

// WebSession is what a browser-session entry grants: the browser's
// ephemeral keys, a validity window and the epochs 0 to Epoch whose data
// keys the approving device sealed to it. Its ID is the DeviceID form of
// Sign, so a session authenticates to a server as a principal of its own.
type WebSession struct {
	ID        string            // keys.DeviceID(Sign)
	Sign      ed25519.PublicKey // the browser's Ed25519 key; it countersigns the entry
	KEM       []byte            // the browser's MLKEM768-X25519 HPKE public key
	NotBefore time.Time         // whole seconds, UTC
	NotAfter  time.Time         // after NotBefore, at most MaxSessionLength later
	Scope     byte              // ScopeRead
	Epoch     uint64            // the chain's current epoch when approved
}

// Session is a browser session the chain records, with who approved it
// and whether it was revoked.
type Session struct {
	WebSession
	Approver string    // DeviceID of the full device that signed the entry
	Seq      uint64    // the session entry
	Time     time.Time // the entry's time (signer's clock)
	// Revoked is the sequence number of the entry that ended the session
	// before its not-after (a revoke-session or web-disable entry, or the
	// removal of its approver); 0 if none did.
	Revoked uint64
}

// Active reports whether the session may be used at now: not revoked and
// now in [NotBefore, NotAfter).
func (s Session) Active(now time.Time) bool {
	return s.Revoked == 0 && !now.Before(s.NotBefore) && now.Before(s.NotAfter)
}

// webState is the part of a chain's state that web entries change.
type webState struct {
	webOn    bool
	webSeq   uint64 // the last web-access entry
	sessions map[string]Session
}

func (w webState) clone() webState {
	n := w
	n.sessions = maps.Clone(w.sessions)
	if n.sessions == nil {
		n.sessions = map[string]Session{}
	}
	return n
}

// check enforces the rules of a session body that need no chain state.
func (s *WebSession) check() error {
	switch {
	case len(s.Sign) != ed25519.PublicKeySize || keys.DeviceID(s.Sign) != s.ID:
		return fmt.Errorf("session ID %s is not derived from its signing key: %w", s.ID, ErrMalformed)
	case len(s.KEM) != keys.KEMPublicKeySize:
		return fmt.Errorf("session HPKE key of %d bytes: %w", len(s.KEM), ErrMalformed)
	case s.Scope != ScopeRead:
		return fmt.Errorf("session scope %d, only %d (read) exists: %w", s.Scope, ScopeRead, ErrMalformed)
	case !s.NotAfter.After(s.NotBefore) || s.NotAfter.Sub(s.NotBefore) > MaxSessionLength:
		return fmt.Errorf("session from %d to %d: not-after must follow not-before by at most %s: %w",
			s.NotBefore.Unix(), s.NotAfter.Unix(), MaxSessionLength, ErrMalformed)
	}
	if _, err := hpke.MLKEM768X25519().NewPublicKey(s.KEM); err != nil {
		return fmt.Errorf("session HPKE key: %w: %w", ErrMalformed, err)
	}
	return nil
}

// appendSession appends the body of a browser-session entry (§D.1).
func appendSession(b []byte, s *WebSession) []byte {
	id, _ := hex.DecodeString(s.ID) // checked by the builder and the parser
	b = append(append(append(b, id...), s.Sign...), s.KEM...)
	b = binary.BigEndian.AppendUint64(b, uint64(s.NotBefore.Unix()))
	b = binary.BigEndian.AppendUint64(b, uint64(s.NotAfter.Unix()))
	return binary.BigEndian.AppendUint64(append(b, s.Scope), s.Epoch)
}

// readSession reads the body appendSession wrote and checks it.
func readSession(r *binread.Reader) (WebSession, error) {
	var s WebSession
	s.ID = hex.EncodeToString(r.Take(idSize))
	s.Sign = ed25519.PublicKey(bytes.Clone(r.Take(ed25519.PublicKeySize)))
	s.KEM = bytes.Clone(r.Take(keys.KEMPublicKeySize))
	nb, na := r.U64(), r.U64()
	s.Scope, s.Epoch = r.U8(), r.U64()
	if r.Err() != nil {
		return s, r.Err()
	}
	if nb > 1<<62 || na > 1<<62 {
		return s, fmt.Errorf("session times %d, %d out of range: %w", nb, na, ErrMalformed)
	}
	s.NotBefore, s.NotAfter = time.Unix(int64(nb), 0).UTC(), time.Unix(int64(na), 0).UTC()
	return s, s.check()
}

// readWebAccess reads the body of a web-access entry: 0x00 off, 0x01 on.
func readWebAccess(r *binread.Reader) (bool, error) {
	switch v := r.U8(); {
	case r.Err() != nil:
		return false, r.Err()
	case v > 1:
		return false, fmt.Errorf("web access flag %d (0 or 1): %w", v, ErrMalformed)
	default:
		return v == 1, nil
	}
}

// applyWeb applies a web-access, browser-session or revoke-session entry.
func (c *Chain) applyWeb(e *Entry) error {
	switch e.Type {
	case TypeWebAccess:
		return c.setWeb(e)
	case TypeWebSession:
		return c.addSession(e)
	default:
		return c.revokeSession(e)
	}
}

func (c *Chain) setWeb(e *Entry) error {
	if e.Web == c.webOn {
		return fmt.Errorf("web access is already %s: %w", onOff(e.Web), ErrInvalid)
	}
	c.webOn, c.webSeq = e.Web, e.Seq
	if !e.Web {
		c.endSessions(e.Seq, func(Session) bool { return true })
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func (c *Chain) addSession(e *Entry) error {
	s := e.Session
	switch _, isDev := c.devices[s.ID]; {
	case !c.webOn:
		return fmt.Errorf("browser session %s while web access is off: %w", s.ID, ErrInvalid)
	case s.Epoch != c.Epoch():
		return fmt.Errorf("browser session for epoch %d in epoch %d: %w", s.Epoch, c.Epoch(), ErrInvalid)
	case isDev:
		return fmt.Errorf("browser session %s has a device's key: %w", s.ID, ErrDuplicateDevice)
	}
	if old, ok := c.sessions[s.ID]; ok {
		return fmt.Errorf("browser session %s was recorded at entry %d: %w", s.ID, old.Seq, ErrInvalid)
	}
	if _, ok := c.removed[s.ID]; ok {
		return fmt.Errorf("browser session %s has a removed device's key: %w", s.ID, ErrDuplicateDevice)
	}
	c.sessions[s.ID] = Session{WebSession: s, Approver: e.Signer, Seq: e.Seq, Time: e.Time}
	return nil
}

func (c *Chain) revokeSession(e *Entry) error {
	s, ok := c.sessions[e.Session.ID]
	switch {
	case !ok:
		return fmt.Errorf("browser session %s to revoke is not in the chain: %w", e.Session.ID, ErrInvalid)
	case s.Revoked != 0:
		return fmt.Errorf("browser session %s was revoked at entry %d: %w", s.ID, s.Revoked, ErrInvalid)
	}
	s.Revoked = e.Seq
	c.sessions[s.ID] = s
	return nil
}

// endSessions revokes, at entry seq, every session not yet revoked that
// match selects.
func (c *Chain) endSessions(seq uint64, match func(Session) bool) {
	for id, s := range c.sessions {
		if s.Revoked == 0 && match(s) {
			s.Revoked = seq
			c.sessions[id] = s
		}
	}
}

// WebEnabled reports whether the account has web access on, and the
// entry that last turned it on or off (0 if none did).
func (c *Chain) WebEnabled() (bool, uint64) { return c.webOn, c.webSeq }

// Session returns the browser session with the given ID, active or not.
func (c *Chain) Session(id string) (Session, bool) {
	s, ok := c.sessions[id]
	return s, ok
}

// Sessions returns every browser session the chain records, in the order
// they were approved.
func (c *Chain) Sessions() []Session {
	out := slices.Collect(maps.Values(c.sessions))
	slices.SortFunc(out, func(a, b Session) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// SetWebAccess returns the entry turning the account's web access on or
// off; turning it off ends every session.
func (c *Chain) SetWebAccess(s Signer, on bool, now time.Time) ([]byte, error) {
	return c.seal(&Entry{Type: TypeWebAccess, Web: on}, s, nil, now)
}

// RevokeSession returns the entry ending browser session id.
func (c *Chain) RevokeSession(s Signer, id string, now time.Time) ([]byte, error) {
	if _, err := hex.DecodeString(id); err != nil || len(id) != 2*idSize {
		return nil, fmt.Errorf("session ID %q: %w", id, ErrInvalid)
	}
	return c.seal(&Entry{Type: TypeRevokeSession, Session: WebSession{ID: id}}, s, nil, now)
}

// PendingSession is a browser-session entry signed by a full device and
// waiting for the browser's countersignature.
type PendingSession struct {
	chain *Chain
	entry *Entry
}

// PrepareSession signs, on top of c, the entry recording the browser
// session ws (its Epoch is set to c's) and returns it for countersigning.
func (c *Chain) PrepareSession(s Signer, ws WebSession, now time.Time) (*PendingSession, error) {
	if len(s.key) != ed25519.PrivateKeySize || c.Len() == 0 {
		return nil, fmt.Errorf("building a browser-session entry: bad signer key or empty chain: %w", ErrInvalid)
	}
	ws.Epoch = c.Epoch()
	ws.NotBefore, ws.NotAfter = ws.NotBefore.Truncate(time.Second).UTC(), ws.NotAfter.Truncate(time.Second).UTC()
	if err := ws.check(); err != nil {
		return nil, fmt.Errorf("building a browser-session entry: %w", err)
	}
	e := &Entry{Type: TypeWebSession, Session: ws}
	c.sign(e, s, nil, now)
	return &PendingSession{chain: c, entry: e}, nil
}

// SignedPart returns the bytes the browser countersigns.
func (p *PendingSession) SignedPart() []byte { return p.entry.signedPart() }

// Sig returns the approving device's signature of the signed part.
func (p *PendingSession) Sig() []byte { return bytes.Clone(p.entry.Sig) }

// Finish completes the entry with the browser's countersignature and
// returns its encoding, refusing one that does not verify or an entry the
// chain would refuse.
func (p *PendingSession) Finish(countersig []byte) ([]byte, error) {
	e := *p.entry
	e.Countersig = bytes.Clone(countersig)
	b := e.Marshal()
	if _, err := p.chain.Extend([][]byte{b}); err != nil {
		return nil, fmt.Errorf("completing the browser-session entry: %w", err)
	}
	return b, nil
}

// ParseSessionRequest parses the signed part of a browser-session entry
// and checks sig, the signature of approver over it, where approver must
// be the key of the entry's signer: what a browser checks before it
// countersigns (docs/web.md, Protocol). It cannot check the approver's
// standing, which only the account's chain tells.
func ParseSessionRequest(signedPart []byte, approver ed25519.PublicKey, sig []byte) (*Entry, error) {
	if len(signedPart) > 1 && Type(signedPart[1]) != TypeWebSession {
		return nil, fmt.Errorf("entry to countersign is a %s entry, not a browser session: %w", Type(signedPart[1]), ErrInvalid)
	}
	if len(signedPart) > MaxEntrySize-2*ed25519.SignatureSize {
		return nil, fmt.Errorf("entry to countersign of %d bytes: %w", len(signedPart), ErrMalformed)
	}
	// Authenticate before parsing: the signature covers label || signed part.
	if len(approver) != ed25519.PublicKeySize || !ed25519.Verify(approver, crypt.AD(labelSign, signedPart), sig) {
		return nil, fmt.Errorf("entry to countersign: %w", ErrBadSignature)
	}
	e, err := Parse(append(bytes.Clone(signedPart), make([]byte, 2*ed25519.SignatureSize)...))
	if err != nil {
		return nil, fmt.Errorf("entry to countersign: %w", err)
	}
	if e.Signer != keys.DeviceID(approver) {
		return nil, fmt.Errorf("entry to countersign is signed by %s, not by the key given: %w", e.Signer, ErrUnknownSigner)
	}
	e.Sig = bytes.Clone(sig)
	e.Countersig = nil
	return e, nil
}

// CountersignMessage returns what the key an entry introduces signs:
// "coffer v1 device chain countersignature" || 0x00 || signed part (§D.3).
func CountersignMessage(signedPart []byte) []byte { return crypt.AD(labelCounter, signedPart) }

// SignedPartHash returns SHA-256 of an entry's signed part.
func (e *Entry) SignedPartHash() [sha256.Size]byte { return sha256.Sum256(e.signedPart()) }

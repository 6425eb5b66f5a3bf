package websession

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-backup/coffer/internal/binread"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
)

// Encodings of the mailbox messages (docs/web.md, Protocol).
const (
	msgVersion  = 1
	offerSize   = 1 + ed25519.PublicKeySize + keys.KEMPublicKeySize
	maxAccount  = keys.MaxAccountIDSize
	labelGrant  = "coffer v1 web session grant"
	labelSealed = "coffer v1 web session grant sealed"
	grantType   = 0x67 // 'g', first byte of a grant's plaintext
)

// Offer is the message of slot 1: the browser's ephemeral public keys.
// Its session ID is keys.DeviceID(Sign).
type Offer struct {
	Sign ed25519.PublicKey // 32 bytes
	KEM  []byte            // keys.KEMPublicKeySize bytes, MLKEM768-X25519
}

// Marshal encodes o: version 0x01 || Sign (32) || KEM (1216).
func (o Offer) Marshal() []byte {
	return append(append([]byte{msgVersion}, o.Sign...), o.KEM...)
}

// SessionID returns the ID of the session the offer asks for.
func (o Offer) SessionID() string { return keys.DeviceID(o.Sign) }

// ParseOffer decodes an opened slot-1 message, checking its size first and
// that its HPKE key is a valid MLKEM768-X25519 public key.
func ParseOffer(b []byte) (Offer, error) {
	if len(b) != offerSize || b[0] != msgVersion {
		return Offer{}, fmt.Errorf("offer of %d bytes, want %d, version %d: %w", len(b), offerSize, msgVersion, ErrMalformed)
	}
	o := Offer{Sign: bytes.Clone(b[1 : 1+ed25519.PublicKeySize]), KEM: bytes.Clone(b[1+ed25519.PublicKeySize:])}
	if _, err := hpke.MLKEM768X25519().NewPublicKey(o.KEM); err != nil {
		return Offer{}, fmt.Errorf("offer's HPKE key: %w: %w", ErrMalformed, err)
	}
	return o, nil
}

// Request is the message of slot 2: the signed part of the browser-session
// entry, and the approving device's Ed25519 public key and signature of it.
type Request struct {
	SignedPart []byte
	Approver   ed25519.PublicKey
	Sig        []byte
}

// Marshal encodes r: version 0x01 || Approver (32) || Sig (64) ||
// signed part (the rest, 1 to devices.MaxEntrySize-128 bytes).
func (r Request) Marshal() []byte {
	b := append([]byte{msgVersion}, r.Approver...)
	return append(append(b, r.Sig...), r.SignedPart...)
}

// ParseRequest decodes an opened slot-2 message; it checks sizes only
// (Browser.Accept checks the rest).
func ParseRequest(b []byte) (Request, error) {
	const head = 1 + ed25519.PublicKeySize + ed25519.SignatureSize
	if len(b) <= head || len(b) > head+devices.MaxEntrySize-2*ed25519.SignatureSize || b[0] != msgVersion {
		return Request{}, fmt.Errorf("request of %d bytes: %w", len(b), ErrMalformed)
	}
	return Request{
		Approver:   bytes.Clone(b[1 : 1+ed25519.PublicKeySize]),
		Sig:        bytes.Clone(b[1+ed25519.PublicKeySize : head]),
		SignedPart: bytes.Clone(b[head:]),
	}, nil
}

// SealRequest seals the slot-2 message for the session pending.
func SealRequest(c *Code, p *devices.PendingSession, approver ed25519.PublicKey) ([]byte, error) {
	return c.Seal(SlotRequest, Request{SignedPart: p.SignedPart(), Approver: approver, Sig: p.Sig()}.Marshal())
}

// ParseCountersign decodes an opened slot-3 message: exactly 64 bytes.
func ParseCountersign(b []byte) ([]byte, error) {
	if len(b) != ed25519.SignatureSize {
		return nil, fmt.Errorf("countersignature of %d bytes, want %d: %w", len(b), ed25519.SignatureSize, ErrMalformed)
	}
	return bytes.Clone(b), nil
}

// Grant is what a browser session reads with: the keys of the account's
// epochs 0 to the session's epoch, never a root key.
type Grant struct {
	Account   string
	SessionID string
	Entry     [32]byte  // devices.Hash of the complete session entry
	NotBefore time.Time // as the entry says
	NotAfter  time.Time
	DataKeys  []crypt.Key // DataKeys[e] is the data key of epoch e (crypt.Keys.Data of its root)
	IDKey     crypt.Key   // blob-ID key (of epoch 0's root)
	ConfKey   crypt.Key   // configuration MAC key (of epoch 0's root)
	Approver  string      // DeviceID of the device that signed the grant
}

// Zero overwrites the keys of g.
func (g *Grant) Zero() {
	for i := range g.DataKeys {
		g.DataKeys[i].Zero()
	}
	g.IDKey.Zero()
	g.ConfKey.Zero()
}

// body encodes g without the signature (docs/web.md, Protocol): 0x67 ||
// version || a || account || session ID (16) || entry hash (32) ||
// not-before (8) || not-after (8) || n (2) || n data keys || ID key ||
// configuration key.
func (g *Grant) body() ([]byte, error) {
	n := len(g.DataKeys)
	if len(g.Account) < 1 || len(g.Account) > maxAccount || strings.IndexByte(g.Account, 0) >= 0 || n < 1 || n > keys.MaxEpochs {
		return nil, fmt.Errorf("grant of account %d bytes and %d epochs: %w", len(g.Account), n, ErrMalformed)
	}
	sid, err := rawID(g.SessionID)
	if err != nil {
		return nil, err
	}
	b := append([]byte{grantType, msgVersion, byte(len(g.Account))}, g.Account...)
	b = append(append(b, sid...), g.Entry[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(g.NotBefore.Unix()))
	b = binary.BigEndian.AppendUint64(b, uint64(g.NotAfter.Unix()))
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	for i := range g.DataKeys {
		b = append(b, g.DataKeys[i][:]...)
	}
	return append(append(b, g.IDKey[:]...), g.ConfKey[:]...), nil
}

// grantInfo is the HPKE info binding a sealed grant to its account and
// session: "coffer v1 web session grant sealed" || 0x00 || account || 0x00
// || session ID (32 hex characters).
func grantInfo(account, sessionID string) []byte {
	return crypt.AD(labelSealed, []byte(account+"\x00"+sessionID))
}

// SealGrant signs g with the approving device's key and seals it to the
// browser's HPKE key of offer, then under the code for slot 4. The
// plaintext is the body, the approver's public key (32) and its Ed25519
// signature over "coffer v1 web session grant" || 0x00 || body.
func SealGrant(c *Code, g *Grant, approver ed25519.PrivateKey, offer Offer) ([]byte, error) {
	if g.SessionID != offer.SessionID() {
		return nil, fmt.Errorf("grant for session %s sealed to session %s: %w", g.SessionID, offer.SessionID(), ErrRefused)
	}
	body, err := g.body()
	if err != nil {
		return nil, err
	}
	defer clear(body)
	pt := append(append(body, approver.Public().(ed25519.PublicKey)...), ed25519.Sign(approver, crypt.AD(labelGrant, body))...)
	defer clear(pt)
	pk, err := hpke.MLKEM768X25519().NewPublicKey(offer.KEM)
	if err != nil {
		return nil, fmt.Errorf("browser's HPKE key: %w", err)
	}
	sealed, err := hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), grantInfo(g.Account, g.SessionID), pt)
	if err != nil {
		return nil, fmt.Errorf("sealing the grant: %w", err)
	}
	return c.Seal(SlotGrant, sealed)
}

// grantTail is the approver's key and signature that end a grant.
const grantTail = ed25519.PublicKeySize + ed25519.SignatureSize

// verifyGrant checks, before anything of it is parsed, that a grant's
// opened plaintext ends with approver's key and its signature of the
// rest, and returns that rest, the body.
func verifyGrant(pt []byte, approver ed25519.PublicKey) ([]byte, error) {
	if len(pt) < grantTail || len(pt) > MaxMessage {
		return nil, fmt.Errorf("grant of %d bytes: %w", len(pt), ErrMalformed)
	}
	body, pub, sig := pt[:len(pt)-grantTail], pt[len(pt)-grantTail:len(pt)-ed25519.SignatureSize], pt[len(pt)-ed25519.SignatureSize:]
	if !bytes.Equal(pub, approver) {
		return nil, fmt.Errorf("grant signed by %s, not by the approver %s: %w", keys.DeviceID(pub), keys.DeviceID(approver), ErrRefused)
	}
	if !ed25519.Verify(approver, crypt.AD(labelGrant, body), sig) {
		return nil, fmt.Errorf("grant signature: %w", ErrRefused)
	}
	return body, nil
}

// parseGrant decodes a grant's body, which verifyGrant authenticated.
func parseGrant(body []byte) (*Grant, error) {
	r := binread.New(body, ErrMalformed)
	if t, v := r.U8(), r.U8(); r.Err() == nil && (t != grantType || v != msgVersion) {
		return nil, fmt.Errorf("grant type %d version %d: %w", t, v, ErrMalformed)
	}
	g := &Grant{Account: string(r.Take(int(r.U8())))}
	g.SessionID = hex.EncodeToString(r.Take(idSize))
	copy(g.Entry[:], r.Take(32))
	nb, na := r.U64(), r.U64()
	n := int(r.U16())
	switch {
	case r.Err() != nil:
		return nil, fmt.Errorf("grant: %w", r.Err())
	case len(g.Account) < 1 || strings.IndexByte(g.Account, 0) >= 0 || nb > 1<<62 || na > 1<<62:
		return nil, fmt.Errorf("grant's account ID or times out of range: %w", ErrMalformed)
	case n < 1 || n > keys.MaxEpochs || r.Len() != (n+2)*crypt.KeySize:
		return nil, fmt.Errorf("grant of %d epochs with %d bytes of keys: %w", n, r.Len(), ErrMalformed)
	}
	g.NotBefore, g.NotAfter = time.Unix(int64(nb), 0).UTC(), time.Unix(int64(na), 0).UTC()
	g.DataKeys = make([]crypt.Key, n)
	for i := range g.DataKeys {
		copy(g.DataKeys[i][:], r.Take(crypt.KeySize))
	}
	copy(g.IDKey[:], r.Take(crypt.KeySize))
	copy(g.ConfKey[:], r.Take(crypt.KeySize))
	if err := r.End(); err != nil {
		g.Zero()
		return nil, fmt.Errorf("grant: %w", err)
	}
	return g, nil
}

// rawID decodes a 32-hex-digit session ID.
func rawID(id string) ([]byte, error) {
	if len(id) != 2*idSize || strings.ToLower(id) != id {
		return nil, fmt.Errorf("session ID of %d characters: %w", len(id), ErrMalformed)
	}
	b, err := hex.DecodeString(id)
	if err != nil {
		return nil, fmt.Errorf("session ID: %w", ErrMalformed)
	}
	return b, nil
}

// Package websession holds both sides of approving a read-only browser
// session (docs/web.md, Protocol), without I/O: it builds for GOOS=js
// GOARCH=wasm and uses only crypto/*, golang.org/x/crypto and Coffer's
// pure packages (devices, keys, crypt, typable, binread).
//
// # The exchange
//
// The browser calls NewBrowser, shows Browser.Code (typable, with a
// checksum) and meets the approving device in the server's pairing mailbox
// Browser.MailboxID (docs/api.md, Pairing). Every mailbox message is
// sealed under a key derived from the code (Code.Seal, Code.Open):
//
//	slot 1  browser → device  Browser.Offer: the browser's public keys
//	slot 2  device → browser  SealRequest: the session entry's signed part,
//	                          the approver's Ed25519 key and signature
//	slot 3  browser → device  Browser.Countersign: its countersignature
//	slot 4  device → browser  SealGrant: the read keys, HPKE-sealed to the
//	                          browser and signed by the approver
//
// Browser side, in order:
//
//	b, err := websession.NewBrowser(rand.Reader)
//	show(b.Code())                        // and b.BuildHash on the page
//	put(b.MailboxID(), 1, b.Offer())      // retry while the mailbox is 404
//	req, err := b.Accept(get(b.MailboxID(), 2))
//	show(req.Compare)                     // the user compares it with the device's
//	put(b.MailboxID(), 3, b.Countersign())
//	g, err := b.OpenGrant(get(b.MailboxID(), 4))
//	sig := b.Sign(wire.AuthMessage(g.Account, b.SessionID(), challenge))
//
// Device side (internal/account): ParseCode, Code.Open(SlotOffer) and
// ParseOffer, devices.Chain.PrepareSession, SealRequest and CompareCode
// (shown to the user, who confirms), Code.Open(SlotCountersign) and
// ParseCountersign, PendingSession.Finish, append, then SealGrant.
//
// # Guarantees
//
// Accept refuses, before anything is countersigned, an entry that does not
// name exactly this browser's keys, that is not read-only, not a browser
// session of at most devices.MaxSessionLength, or whose signature is not
// the named approver's. The comparison code covers the code, the offer and
// the signed part, so a party that learned the code and raced the browser
// with an offer of its own makes the two screens differ. A Grant holds the
// data keys of epochs 0 to the session's epoch, the blob-ID key and the
// configuration MAC key: never a root key, the chunker's gear key or any
// device key; OpenGrant accepts it only if it opens with this browser's
// HPKE key under an info naming the account and session, is signed by the
// approver of the entry countersigned, and names that entry. Parsers bound
// every size before allocating and never panic; errors never contain a
// code or a key.
package websession

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/typable"
)

// Sizes and limits (docs/web.md, Protocol).
const (
	CodeSize   = 16       // random bytes of a session code
	MaxMessage = 60 << 10 // bytes of a mailbox message before sealing
	idSize     = 16       // bytes of the mailbox ID
	nonceSize  = chacha20poly1305.NonceSizeX
	tagSize    = chacha20poly1305.Overhead
	maxSealed  = nonceSize + MaxMessage + tagSize
)

// Mailbox slots (the server's pairing slots, docs/api.md).
const (
	SlotOffer       byte = 1 // browser → device: Offer
	SlotRequest     byte = 2 // device → browser: Request
	SlotCountersign byte = 3 // browser → device: countersignature
	SlotGrant       byte = 4 // device → browser: sealed Grant
)

// HKDF labels and the AD label. They differ from pairing's, so no message
// of one protocol opens as one of the other.
const (
	labelID      = "coffer v1 web session id"
	labelKey     = "coffer v1 web session key"
	labelAD      = "coffer v1 web session"
	labelCompare = "coffer v1 web session comparison"
)

// codeForm is the typable form of a session code: 16 bytes and 2
// characters of hash, 29 characters, so that a pairing code (28) or a
// share code is never taken for one.
var codeForm = typable.Form{What: "web session code", Size: CodeSize, Hash: 2}

// Errors, wrapped with context.
var (
	ErrSlot      = errors.New("web session slot must be 1 to 4")
	ErrTooLarge  = errors.New("web session message too large")
	ErrOpen      = errors.New("web session message does not open: another code, another slot, or altered")
	ErrMalformed = errors.New("malformed web session message")
	ErrRefused   = errors.New("web session message refused")
)

// Code is a session code: 128 random bits the browser shows and the
// approving device's user types. Both derive from it the mailbox ID, the
// key sealing every mailbox message, and (with the messages) the
// comparison code.
type Code struct {
	b [CodeSize]byte
}

// NewCode draws a fresh code from rand.
func NewCode(rand io.Reader) (*Code, error) {
	var c Code
	if _, err := io.ReadFull(rand, c.b[:]); err != nil {
		return nil, fmt.Errorf("drawing web session code: %w", err)
	}
	return &c, nil
}

// String returns the typable form: 29 upper-case Crockford base32
// characters in groups of 4 joined by dashes.
func (c *Code) String() string { return codeForm.Encode(c.b[:]) }

// ParseCode parses the typable form, tolerating case, spaces and dashes.
// Every single mistyped character and every swap of adjacent characters is
// an error wrapping typable.ErrChecksum.
func ParseCode(s string) (*Code, error) {
	b, err := codeForm.Parse(s)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	var c Code
	copy(c.b[:], b)
	return &c, nil
}

// ID returns the mailbox ID: the 32 lower-case hex digits of
// HKDF-SHA-256(code, "coffer v1 web session id")[0..16].
func (c *Code) ID() string { return hex.EncodeToString(c.derive(labelID, idSize)) }

// Seal encrypts msg (at most MaxMessage bytes) for slot under a fresh
// nonce: nonce (24) || XChaCha20-Poly1305 ciphertext and tag, with AD
// "coffer v1 web session" || 0x00 || mailbox ID (16 raw bytes) || 0x00 || slot.
func (c *Code) Seal(slot byte, msg []byte) ([]byte, error) {
	if len(msg) > MaxMessage {
		return nil, fmt.Errorf("sealing %d bytes for slot %d, limit %d: %w", len(msg), slot, MaxMessage, ErrTooLarge)
	}
	aead, err := c.aead(slot)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, nonceSize, nonceSize+len(msg)+tagSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("drawing a nonce: %w", err)
	}
	return aead.Seal(nonce, nonce, msg, c.ad(slot)), nil
}

// Open authenticates and decrypts what Seal returned for the same code and
// slot; anything else is ErrOpen.
func (c *Code) Open(slot byte, sealed []byte) ([]byte, error) {
	if len(sealed) > maxSealed {
		return nil, fmt.Errorf("opening slot %d: %d bytes, limit %d: %w", slot, len(sealed), maxSealed, ErrTooLarge)
	}
	aead, err := c.aead(slot)
	if err != nil {
		return nil, err
	}
	if len(sealed) < nonceSize+tagSize {
		return nil, fmt.Errorf("opening slot %d: %d bytes is too short: %w", slot, len(sealed), ErrOpen)
	}
	msg, err := aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], c.ad(slot))
	if err != nil {
		return nil, fmt.Errorf("opening slot %d: %w", slot, ErrOpen)
	}
	return msg, nil
}

// Zero overwrites the code. The Code must not be used afterwards.
func (c *Code) Zero() { clear(c.b[:]) }

func (c *Code) aead(slot byte) (cipher.AEAD, error) {
	if slot < SlotOffer || slot > SlotGrant {
		return nil, fmt.Errorf("slot %d: %w", slot, ErrSlot)
	}
	key := c.derive(labelKey, chacha20poly1305.KeySize)
	defer clear(key)
	return chacha20poly1305.NewX(key) // fails only for a key of the wrong size
}

func (c *Code) ad(slot byte) []byte {
	return crypt.AD(labelAD, append(append(c.derive(labelID, idSize), 0), slot))
}

// derive returns HKDF-SHA-256(code, salt empty, info label), n bytes.
func (c *Code) derive(label string, n int) []byte {
	out, _ := hkdf.Key(sha256.New, c.b[:], nil, label, n) // fails only past 255 hash lengths
	return out
}

// compareBytes are drawn for a comparison code, of which 50 bits are shown.
const compareBytes = 7

var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// CompareCode returns the comparison code both screens show: the first 10
// Crockford base32 characters of HKDF-SHA-256(code, salt empty, info
// "coffer v1 web session comparison" || 0x00 || SHA-256(offer) ||
// SHA-256(signed part)), as two groups of five joined by a dash. offer is
// the opened slot-1 message, signedPart the session entry's signed part.
func CompareCode(c *Code, offer, signedPart []byte) string {
	ho, hs := sha256.Sum256(offer), sha256.Sum256(signedPart)
	info := crypt.AD(labelCompare, append(ho[:], hs[:]...))
	out, _ := hkdf.Key(sha256.New, c.b[:], nil, string(info), compareBytes)
	s := crockford.EncodeToString(out)[:10]
	return s[:5] + "-" + s[5:]
}

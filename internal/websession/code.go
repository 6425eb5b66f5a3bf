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
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"io"

	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/mailbox"
	"github.com/coffer-backup/coffer/internal/typable"
)

// Sizes and limits (docs/web.md, Protocol).
const (
	CodeSize   = mailbox.CodeSize   // random bytes of a session code
	MaxMessage = mailbox.MaxMessage // bytes of a mailbox message before sealing
	idSize     = mailbox.IDSize     // bytes of the mailbox ID and the session ID
)

// Mailbox slots (the server's pairing slots, docs/api.md).
const (
	SlotOffer       byte = 1 // browser → device: Offer
	SlotRequest     byte = 2 // device → browser: Request
	SlotCountersign byte = 3 // browser → device: countersignature
	SlotGrant       byte = 4 // device → browser: sealed Grant
)

// labelCompare is the HKDF label of the comparison code.
const labelCompare = "coffer v1 web session comparison"

// scheme is the web session's use of the mailbox. Its labels differ from
// pairing's, so no message of one protocol opens as one of the other; its
// codes have 2 characters of hash, 29 in all, so that a pairing code (28)
// or a share code is never taken for one.
var scheme = &mailbox.Scheme{
	Form:     typable.Form{What: "web session code", Size: CodeSize, Hash: 2},
	LabelID:  "coffer v1 web session id",
	LabelKey: "coffer v1 web session key",
	LabelAD:  "coffer v1 web session",
	Slots:    SlotGrant,
}

// Errors, wrapped with context.
var (
	ErrSlot      = mailbox.ErrSlot
	ErrTooLarge  = mailbox.ErrTooLarge
	ErrOpen      = mailbox.ErrOpen
	ErrMalformed = errors.New("malformed web session message")
	ErrRefused   = errors.New("web session message refused")
)

// Code is a session code: 128 random bits the browser shows and the
// approving device's user types. Both derive from it the mailbox ID
// (Code.ID), the key sealing every mailbox message (Code.Seal, Code.Open:
// XChaCha20-Poly1305, AD "coffer v1 web session" || 0x00 || mailbox ID ||
// 0x00 || slot) and, with the messages, the comparison code.
type Code = mailbox.Code

// NewCode draws a fresh code from rand.
func NewCode(rand io.Reader) (*Code, error) { return scheme.NewCode(rand) }

// ParseCode parses the typable form, tolerating case, spaces and dashes.
// Every single mistyped character and every swap of adjacent characters is
// an error wrapping typable.ErrChecksum.
func ParseCode(s string) (*Code, error) { return scheme.ParseCode(s) }

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
	out := c.Derive(string(info), compareBytes)
	s := crockford.EncodeToString(out)[:10]
	return s[:5] + "-" + s[5:]
}

// Package pairing holds the client side of adding a device to an account
// and of recovery contacts, without I/O (docs/pairing.md): the pairing code
// a user types on the new device, the rendezvous ID and the sealed messages
// derived from it, the codecs of the four messages, and the typable share
// code a recovery contact reads out.
//
// Everything a parser here reads may come from a hostile server: sizes are
// checked before anything is allocated, encodings are canonical, and
// nothing read can make the package panic. Errors never contain a code.
package pairing

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/typable"
)

// Sizes and limits (docs/pairing.md §P.1, §P.3).
const (
	CodeSize   = 16       // random bytes of a pairing code
	MaxMessage = 60 << 10 // bytes of a message before sealing
	idSize     = 16       // bytes of the rendezvous ID
	nonceSize  = chacha20poly1305.NonceSizeX
	tagSize    = chacha20poly1305.Overhead
	maxSealed  = nonceSize + MaxMessage + tagSize
)

// Slots of the pairing mailbox (docs/pairing.md §P.4).
const (
	SlotJoin        byte = 1 // new device → adder: Join
	SlotOffer       byte = 2 // adder → new device: Offer
	SlotCountersign byte = 3 // new device → adder: Countersign
	SlotDone        byte = 4 // adder → new device: Done
)

// HKDF labels and the AD label (docs/pairing.md §P.3).
const (
	labelID  = "coffer v1 pairing id"
	labelKey = "coffer v1 pairing key"
	labelAD  = "coffer v1 pairing"
)

var codeForm = typable.Form{What: "pairing code", Size: CodeSize, Hash: 1}

// Errors of Seal and Open, wrapped with context.
var (
	ErrSlot     = errors.New("pairing slot must be 1 to 4")
	ErrTooLarge = errors.New("pairing message too large")
	ErrOpen     = errors.New("pairing message does not open: another code, another slot, or altered")
)

// Code is a pairing code: 128 random bits, shown on the device that adds
// and typed on the device that joins. Both derive from it the rendezvous ID
// and the key that seals every message of the pairing.
type Code struct {
	b [CodeSize]byte
}

// NewCode draws a fresh code from rand (crypto/rand.Reader outside tests).
func NewCode(rand io.Reader) (*Code, error) {
	var c Code
	if _, err := io.ReadFull(rand, c.b[:]); err != nil {
		return nil, fmt.Errorf("drawing pairing code: %w", err)
	}
	return &c, nil
}

// String returns the typable form (docs/pairing.md §P.2): 28 upper-case
// Crockford base32 characters in 7 groups of 4 joined by dashes.
func (c *Code) String() string { return codeForm.Encode(c.b[:]) }

// ParseCode parses the typable form, tolerating case, spaces and dashes.
// Every single mistyped character and every swap of adjacent characters is
// an error wrapping typable.ErrChecksum; other errors wrap typable.ErrLength
// or typable.ErrChar.
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

// ID returns the rendezvous ID, the 32 lower-case hex digits of
// HKDF-SHA-256(code, "coffer v1 pairing id")[0..16]. It tells the server
// which mailbox to use and reveals nothing of the key.
func (c *Code) ID() string { return hex.EncodeToString(c.derive(labelID, idSize)) }

// Seal encrypts msg (at most MaxMessage bytes) for the given slot under a
// fresh random nonce: nonce (24) || XChaCha20-Poly1305 ciphertext and tag.
func (c *Code) Seal(slot byte, msg []byte) ([]byte, error) {
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("drawing pairing nonce: %w", err)
	}
	return c.seal(slot, msg, nonce)
}

// seal is Seal with a given nonce.
func (c *Code) seal(slot byte, msg, nonce []byte) ([]byte, error) {
	if len(msg) > MaxMessage {
		return nil, fmt.Errorf("sealing %d bytes for slot %d, limit %d: %w", len(msg), slot, MaxMessage, ErrTooLarge)
	}
	aead, err := c.aead(slot)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, msg, c.ad(slot)), nil
}

// Open authenticates and decrypts what Seal returned for the same code and
// slot. Anything else, including a message sealed for another slot or
// another pairing, is ErrOpen.
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

// aead returns the cipher of the pairing key, after checking the slot.
func (c *Code) aead(slot byte) (cipher.AEAD, error) {
	if slot < SlotJoin || slot > SlotDone {
		return nil, fmt.Errorf("slot %d: %w", slot, ErrSlot)
	}
	key := c.derive(labelKey, chacha20poly1305.KeySize)
	defer clear(key)
	// NewX fails only for a key of the wrong size.
	return chacha20poly1305.NewX(key)
}

// ad returns "coffer v1 pairing" || 0x00 || ID (16 raw bytes) || 0x00 || slot.
func (c *Code) ad(slot byte) []byte {
	return crypt.AD(labelAD, append(append(c.derive(labelID, idSize), 0), slot))
}

// derive returns HKDF-SHA-256(code, salt empty, info label) of n bytes.
func (c *Code) derive(label string, n int) []byte {
	// hkdf.Key fails only when asked for more than 255 hash lengths.
	out, _ := hkdf.Key(sha256.New, c.b[:], nil, label, n)
	return out
}

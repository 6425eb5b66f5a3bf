// Package mailbox seals the messages two parties exchange through a
// server's pairing mailbox under keys derived from a one-time code that one
// party shows and the other types, without I/O. Pairing a device
// (docs/pairing.md §P.2–§P.3) and approving a browser session (docs/web.md,
// Protocol) use it, each with a Scheme of its own: its own labels, so that
// no message of one protocol opens as one of the other, and its own typable
// form, so that no code of one is taken for a code of the other.
//
// Everything Open reads may come from a hostile server: sizes are checked
// before anything is allocated, and nothing read can make it panic. Errors
// never contain a code or a key.
package mailbox

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

// Sizes and limits.
const (
	CodeSize   = 16       // random bytes of a code
	MaxMessage = 60 << 10 // bytes of a message before sealing
	IDSize     = 16       // bytes of the mailbox ID
	NonceSize  = chacha20poly1305.NonceSizeX
	TagSize    = chacha20poly1305.Overhead
	MaxSealed  = NonceSize + MaxMessage + TagSize // bytes of a sealed message
)

// Errors of Seal and Open, wrapped with context naming the scheme.
var (
	ErrSlot     = errors.New("mailbox slot out of range")
	ErrTooLarge = errors.New("mailbox message too large")
	ErrOpen     = errors.New("mailbox message does not open: another code, another slot, or altered")
)

// Scheme is one protocol's use of a mailbox: the typable form of its codes
// (Form.Size must be CodeSize), its HKDF labels and AD label, and its
// number of slots, numbered 1 to Slots.
type Scheme struct {
	Form     typable.Form
	LabelID  string // HKDF info of the mailbox ID
	LabelKey string // HKDF info of the sealing key
	LabelAD  string // AD label of every sealed message
	Slots    byte
}

// Code is a one-time code of a Scheme: 128 random bits. Both parties derive
// from it the mailbox ID and the key that seals every message.
type Code struct {
	s *Scheme
	b [CodeSize]byte
}

// NewCode draws a fresh code from rand (crypto/rand.Reader outside tests).
func (s *Scheme) NewCode(rand io.Reader) (*Code, error) {
	c := &Code{s: s}
	if _, err := io.ReadFull(rand, c.b[:]); err != nil {
		return nil, fmt.Errorf("drawing %s: %w", s.Form.What, err)
	}
	return c, nil
}

// ParseCode parses the typable form, tolerating case, spaces and dashes.
// Every single mistyped character and every swap of adjacent characters is
// an error wrapping typable.ErrChecksum; other errors wrap typable.ErrLength
// or typable.ErrChar.
func (s *Scheme) ParseCode(str string) (*Code, error) {
	b, err := s.Form.Parse(str)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	c := &Code{s: s}
	copy(c.b[:], b)
	return c, nil
}

// String returns the typable form: upper-case Crockford base32 in groups
// of 4 joined by dashes.
func (c *Code) String() string { return c.s.Form.Encode(c.b[:]) }

// ID returns the mailbox ID, the 32 lower-case hex digits of
// HKDF-SHA-256(code, salt empty, info LabelID)[0..16]. It tells the server
// which mailbox to use and reveals nothing of the key.
func (c *Code) ID() string { return hex.EncodeToString(c.Derive(c.s.LabelID, IDSize)) }

// Seal encrypts msg (at most MaxMessage bytes) for slot under a fresh
// random nonce: nonce (24) || XChaCha20-Poly1305 ciphertext and tag, with
// AD LabelAD || 0x00 || mailbox ID (16 raw bytes) || 0x00 || slot. The key
// is HKDF-SHA-256(code, salt empty, info LabelKey); the random 192-bit
// nonces of one code's few messages do not repeat but with negligible
// probability.
func (c *Code) Seal(slot byte, msg []byte) ([]byte, error) {
	nonce := make([]byte, NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("drawing a nonce: %w", err)
	}
	return c.SealWithNonce(slot, msg, nonce)
}

// SealWithNonce is Seal with a given 24-byte nonce, for test vectors only:
// a nonce must never be used twice with one code.
func (c *Code) SealWithNonce(slot byte, msg, nonce []byte) ([]byte, error) {
	if len(msg) > MaxMessage {
		return nil, fmt.Errorf("sealing %d bytes for %s slot %d, limit %d: %w", len(msg), c.s.Form.What, slot, MaxMessage, ErrTooLarge)
	}
	aead, err := c.aead(slot)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nonce[:NonceSize:NonceSize], nonce[:NonceSize], msg, c.ad(slot)), nil
}

// Open authenticates and decrypts what Seal returned for the same code and
// slot. Anything else, including a message sealed for another slot,
// another code or another scheme, is ErrOpen.
func (c *Code) Open(slot byte, sealed []byte) ([]byte, error) {
	if len(sealed) > MaxSealed {
		return nil, fmt.Errorf("opening %s slot %d: %d bytes, limit %d: %w", c.s.Form.What, slot, len(sealed), MaxSealed, ErrTooLarge)
	}
	aead, err := c.aead(slot)
	if err != nil {
		return nil, err
	}
	if len(sealed) < NonceSize+TagSize {
		return nil, fmt.Errorf("opening %s slot %d: %d bytes is too short: %w", c.s.Form.What, slot, len(sealed), ErrOpen)
	}
	msg, err := aead.Open(nil, sealed[:NonceSize], sealed[NonceSize:], c.ad(slot))
	if err != nil {
		return nil, fmt.Errorf("opening %s slot %d: %w", c.s.Form.What, slot, ErrOpen)
	}
	return msg, nil
}

// Zero overwrites the code. The Code must not be used afterwards.
func (c *Code) Zero() { clear(c.b[:]) }

// Derive returns HKDF-SHA-256(code, salt empty, info label) of n bytes
// (n at most 8160).
func (c *Code) Derive(label string, n int) []byte {
	// hkdf.Key fails only when asked for more than 255 hash lengths.
	out, _ := hkdf.Key(sha256.New, c.b[:], nil, label, n)
	return out
}

// aead returns the cipher of the sealing key, after checking the slot.
func (c *Code) aead(slot byte) (cipher.AEAD, error) {
	if slot < 1 || slot > c.s.Slots {
		return nil, fmt.Errorf("%s slot %d, want 1 to %d: %w", c.s.Form.What, slot, c.s.Slots, ErrSlot)
	}
	key := c.Derive(c.s.LabelKey, chacha20poly1305.KeySize)
	defer clear(key)
	// NewX fails only for a key of the wrong size.
	return chacha20poly1305.NewX(key)
}

// ad returns LabelAD || 0x00 || ID (16 raw bytes) || 0x00 || slot.
func (c *Code) ad(slot byte) []byte {
	return crypt.AD(c.s.LabelAD, append(append(c.Derive(c.s.LabelID, IDSize), 0), slot))
}

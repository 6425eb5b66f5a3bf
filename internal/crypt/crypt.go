// Package crypt holds every cryptographic construction a repository uses:
// working keys derived from the account root key, keyed blob identifiers,
// the chunker's secret gear table, and the authenticated encryption envelope
// that wraps every stored byte (docs/format.md §2).
//
// It does no I/O and uses only crypto/* primitives.
package crypt

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"

	"github.com/coffer-backup/coffer/internal/blob"
)

// KeySize is the length of every symmetric key.
const KeySize = 32

// Key is a 256-bit symmetric key.
type Key [KeySize]byte

// Zero overwrites the key with zeros.
func (k *Key) Zero() { clear(k[:]) }

// Equal reports in constant time whether two keys are equal.
func (k *Key) Equal(o *Key) bool { return subtle.ConstantTimeCompare(k[:], o[:]) == 1 }

// Labels for HKDF-SHA-256 derivation from the account root key
// (docs/format.md §2.1). Each working key has its own label, so no key is
// ever used for two purposes.
const (
	labelData  = "coffer v1 data key"
	labelID    = "coffer v1 blob id key"
	labelGear  = "coffer v1 chunker gear key"
	labelGearT = "coffer v1 chunker gear table"
	labelConf  = "coffer v1 config mac key"
)

// Keys are the working keys of one account, derived from its root key.
type Keys struct {
	Data Key // master key of the encryption envelope
	ID   Key // HMAC-SHA-256 key of blob identifiers
	Gear Key // seed of the chunker's gear table
	Conf Key // HMAC-SHA-256 key authenticating the cleartext configuration
}

// DeriveKeys derives the working keys from an account root key with
// HKDF-SHA-256 (RFC 5869): salt empty, info a distinct label per key.
func DeriveKeys(root *Key) (*Keys, error) {
	var k Keys
	for _, d := range []struct {
		dst   *Key
		label string
	}{{&k.Data, labelData}, {&k.ID, labelID}, {&k.Gear, labelGear}, {&k.Conf, labelConf}} {
		out, err := hkdf.Key(sha256.New, root[:], nil, d.label, KeySize)
		if err != nil {
			return nil, fmt.Errorf("deriving %s: %w", d.label, err)
		}
		copy(d.dst[:], out)
		clear(out)
	}
	return &k, nil
}

// Zero overwrites all working keys.
func (k *Keys) Zero() {
	k.Data.Zero()
	k.ID.Zero()
	k.Gear.Zero()
	k.Conf.Zero()
}

// ConfigMAC returns HMAC-SHA-256 under the configuration key of msg
// (docs/format.md §9).
func (k *Keys) ConfigMAC(msg []byte) []byte {
	m := hmac.New(sha256.New, k.Conf[:])
	m.Write(msg)
	return m.Sum(nil)
}

// GearTable expands the gear key into the 256 pseudo-random 64-bit values
// the content-defined chunker uses (docs/format.md §2.3). Without the key,
// chunk boundaries cannot be predicted from content.
func GearTable(gear *Key) (*[256]uint64, error) {
	out, err := hkdf.Expand(sha256.New, gear[:], labelGearT, 256*8)
	if err != nil {
		return nil, fmt.Errorf("expanding gear table: %w", err)
	}
	var t [256]uint64
	for i := range t {
		t[i] = binary.LittleEndian.Uint64(out[i*8:])
	}
	clear(out)
	return &t, nil
}

// Hasher computes blob identifiers: HMAC-SHA-256 under the ID key of the
// blob type byte followed by the plaintext (docs/format.md §3). It is safe
// for concurrent use.
type Hasher struct {
	pool sync.Pool
	web  webHMAC // the browser's HMAC, in the web app (gcm_js.go)
}

// NewHasher returns a Hasher for the given ID key.
func NewHasher(idKey *Key) *Hasher {
	key := *idKey
	h := &Hasher{}
	h.pool.New = func() any { return hmac.New(sha256.New, key[:]) }
	h.web = newWebHMAC(&key)
	return h
}

// Sum returns the identifier of a blob of type t with the given plaintext.
func (h *Hasher) Sum(t blob.Type, plaintext []byte) blob.ID {
	if id, ok := h.web.sum(t, plaintext); ok {
		return id
	}
	m := h.pool.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte{byte(t)})
	m.Write(plaintext)
	var id blob.ID
	m.Sum(id[:0])
	h.pool.Put(m)
	return id
}

// ContentID returns the SHA-256 of stored bytes: the name of every
// content-addressed object in the store (docs/format.md §4).
func ContentID(b []byte) blob.ID { return sha256.Sum256(b) }

// ErrAuth is returned when a ciphertext fails authentication: it was
// altered, truncated, is of another type or identity, or was sealed under
// another key.
var ErrAuth = errors.New("authentication failed (wrong key, or data altered)")

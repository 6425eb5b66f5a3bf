package keys

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"

	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/typable"
)

// recoveryForm is the recovery key's text form (docs/format.md §2.5): 52
// Crockford base32 characters of key, 3 of SHA-256(key) and 1 GF(32) check
// character, written as 14 groups of 4 joined by dashes.
var recoveryForm = typable.Form{What: "recovery key", Size: recoveryKeySize, Hash: 3}

const recoveryKeySize = 32

// HKDF labels of the keys derived from a recovery key (docs/format.md §2.5).
const (
	labelRecoverySign = "coffer v1 recovery signing key"
	labelRecoveryWrap = "coffer v1 recovery wrap key"
)

// Errors of ParseRecoveryKey, the errors of every typable form, which
// ParseRecoveryKey wraps with the words "recovery key". None of them ever
// includes the key.
var (
	ErrRecoveryLength   = typable.ErrLength
	ErrRecoveryChar     = typable.ErrChar
	ErrRecoveryChecksum = typable.ErrChecksum
)

// RecoveryKey is a 256-bit secret the user writes down. It can unwrap the
// account root key when every device is lost, and it derives a signing key.
type RecoveryKey struct {
	key [recoveryKeySize]byte
}

// NewRecoveryKey draws a fresh random recovery key.
func NewRecoveryKey() (*RecoveryKey, error) {
	var rk RecoveryKey
	if _, err := rand.Read(rk.key[:]); err != nil {
		return nil, fmt.Errorf("drawing recovery key: %w", err)
	}
	return &rk, nil
}

// String returns the typable form: 14 groups of 4 upper-case Crockford
// base32 characters joined by dashes, the last group holding the checksum.
func (rk *RecoveryKey) String() string { return recoveryForm.Encode(rk.key[:]) }

// ParseRecoveryKey parses the typable form. Letters may be of either case,
// spaces, tabs, line breaks and dashes are ignored, O reads as 0 and I or L
// as 1. Any single mistyped character and any swap of two adjacent
// characters is reported as ErrRecoveryChecksum; other errors wrap
// ErrRecoveryLength or ErrRecoveryChar and name a position, never a
// character of the key.
func ParseRecoveryKey(s string) (*RecoveryKey, error) {
	b, err := recoveryForm.Parse(s)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	var rk RecoveryKey
	copy(rk.key[:], b)
	return &rk, nil
}

// SigningKey returns the Ed25519 key whose seed is
// HKDF-SHA-256(recovery key, "coffer v1 recovery signing key").
func (rk *RecoveryKey) SigningKey() ed25519.PrivateKey {
	seed := derive(rk.key[:], labelRecoverySign)
	defer seed.Zero()
	return ed25519.NewKeyFromSeed(seed[:])
}

// RecoveryName is the name in the recovery key's identity record.
const RecoveryName = "recovery"

// Device returns the recovery key's identity as a device (docs/format.md
// §2.6): the recovery signing key, and the MLKEM768-X25519 key whose seed
// is the recovery wrap key HKDF-SHA-256(recovery key, "coffer v1 recovery
// wrap key"), named RecoveryName. Its ID is the recovery principal's ID,
// DeviceID of the recovery signing public key. Root keys are wrapped to
// it as to any device, so a device can wrap a new epoch's root key to the
// recovery key without holding it. Zero the result when done.
func (rk *RecoveryKey) Device() (*Device, error) {
	seed := derive(rk.key[:], labelRecoveryWrap)
	defer seed.Zero()
	k, err := kem().NewPrivateKey(seed[:])
	if err != nil {
		return nil, fmt.Errorf("recovery HPKE key: %w", err)
	}
	sign := rk.SigningKey()
	return &Device{ID: DeviceID(sign.Public().(ed25519.PublicKey)), Sign: sign, KEM: k, Name: RecoveryName}, nil
}

// Zero overwrites the recovery key.
func (rk *RecoveryKey) Zero() { clear(rk.key[:]) }

// derive returns HKDF-SHA-256(ikm, salt empty, info label) of 32 bytes.
func derive(ikm []byte, label string) crypt.Key {
	var k crypt.Key
	// hkdf.Key fails only when asked for more than 255 hash lengths.
	out, _ := hkdf.Key(sha256.New, ikm, nil, label, crypt.KeySize)
	copy(k[:], out)
	clear(out)
	return k
}

// crockford, b32, base32Encode and group write device fingerprints
// (Fingerprint, docs/format.md §2.4.1), which are not a typable form: they
// are compared, never typed, so they carry no checksum.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var b32 = base32.NewEncoding(crockford).WithPadding(base32.NoPadding)

// base32Encode returns the unpadded upper-case Crockford base32 form of b.
func base32Encode(b []byte) []byte {
	out := make([]byte, b32.EncodedLen(len(b)))
	b32.Encode(out, b)
	return out
}

// group joins s in groups of four characters separated by sep.
func group(s, sep string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

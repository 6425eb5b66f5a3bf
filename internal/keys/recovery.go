package keys

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/coffer-backup/coffer/internal/crypt"
)

// Recovery key text form (docs/format.md §2.5): 52 Crockford base32
// characters of key, 3 of SHA-256 checksum and 1 GF(32) check character,
// written as 14 groups of 4 joined by dashes.
const (
	recoveryKeySize = 32
	recoveryData    = 52 // ceil(256 / 5)
	recoveryHash    = 3  // first 15 bits of SHA-256(key)
	// RecoveryChars is the number of significant characters in a recovery
	// key (separators not counted).
	RecoveryChars = recoveryData + recoveryHash + 1
)

// HKDF labels of the keys derived from a recovery key (docs/format.md §2.5).
const (
	labelRecoverySign = "coffer v1 recovery signing key"
	labelRecoveryWrap = "coffer v1 recovery wrap key"
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var b32 = base32.NewEncoding(crockford).WithPadding(base32.NoPadding)

// Errors of ParseRecoveryKey. None of them ever includes the key.
var (
	ErrRecoveryLength   = errors.New("recovery key has the wrong number of characters")
	ErrRecoveryChar     = errors.New("recovery key contains a character that cannot appear in one")
	ErrRecoveryChecksum = errors.New("recovery key checksum does not match: a character is mistyped")
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
func (rk *RecoveryKey) String() string {
	return group(string(recoverySymbols(rk.key[:])), "-")
}

// recoverySymbols returns the 56 significant characters of a key.
func recoverySymbols(key []byte) []byte {
	h := sha256.Sum256(key)
	s := make([]byte, 0, RecoveryChars)
	s = append(s, base32Encode(key)...)
	s = append(s, base32Encode(h[:2])[:recoveryHash]...)
	return append(s, crockford[mulX(gfCheck(s))])
}

// ParseRecoveryKey parses the typable form. Letters may be of either case,
// spaces, tabs, line breaks and dashes are ignored, O reads as 0 and I or L
// as 1. Any single mistyped character and any swap of two adjacent
// characters is reported as ErrRecoveryChecksum; other errors wrap
// ErrRecoveryLength or ErrRecoveryChar and name a position, never a
// character of the key.
func ParseRecoveryKey(s string) (*RecoveryKey, error) {
	sym := make([]byte, 0, RecoveryChars)
	defer clear(sym)
	pos := 0
	for _, r := range s {
		pos++
		if strings.ContainsRune(" \t\r\n-", r) {
			continue
		}
		v := crockfordValue(r)
		if v < 0 {
			return nil, fmt.Errorf("%w (character %d of what was entered)", ErrRecoveryChar, pos)
		}
		if len(sym) == RecoveryChars {
			return nil, fmt.Errorf("%w: more than %d", ErrRecoveryLength, RecoveryChars)
		}
		sym = append(sym, crockford[v])
	}
	if len(sym) != RecoveryChars {
		return nil, fmt.Errorf("%w: %d, want %d (dashes and spaces not counted)", ErrRecoveryLength, len(sym), RecoveryChars)
	}
	if gfCheck(sym) != 0 {
		return nil, ErrRecoveryChecksum
	}
	// The key's own encoding must reproduce every character: this checks
	// the SHA-256 characters and that the 4 unused bits are zero.
	var rk RecoveryKey
	n, err := b32.Decode(rk.key[:], sym[:recoveryData])
	want := recoverySymbols(rk.key[:])
	defer clear(want)
	if err != nil || n != recoveryKeySize || subtle.ConstantTimeCompare(want, sym) != 1 {
		rk.Zero()
		return nil, ErrRecoveryChecksum
	}
	return &rk, nil
}

// crockfordValue returns the value of a Crockford base32 character, or -1.
func crockfordValue(r rune) int {
	switch r {
	case 'O', 'o':
		return 0
	case 'I', 'i', 'L', 'l':
		return 1
	}
	if 'a' <= r && r <= 'z' {
		r -= 'a' - 'A'
	}
	if r > 'Z' {
		return -1
	}
	return strings.IndexByte(crockford, byte(r))
}

// gfCheck evaluates, by Horner's rule in GF(32) = GF(2)[x]/(x^5+x^2+1),
// the polynomial whose coefficients are the values of the characters of s,
// first character highest. A complete recovery key evaluates to 0.
func gfCheck(s []byte) byte {
	var acc byte
	for _, c := range s {
		acc = mulX(acc) ^ byte(strings.IndexByte(crockford, c))
	}
	return acc
}

// mulX multiplies a GF(32) element by x.
func mulX(a byte) byte {
	a <<= 1
	if a&0x20 != 0 {
		a ^= 0x25
	}
	return a
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

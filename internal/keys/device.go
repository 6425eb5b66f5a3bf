// Package keys holds a device's long-term identity and everything that
// protects the account root key: the passphrase-sealed device keystore on
// local disk (docs/format.md §2.4), the recovery key a user writes down
// (§2.5), and the objects that wrap the root key to each device and to the
// recovery key in the store (§2.6).
//
// Parsers here treat every input as hostile: sizes are checked before
// anything is allocated or any key derivation runs, and nothing they read
// can make them panic. Only the keystore functions (Save, Replace, Load,
// LoadPublic) touch the file system.
package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/coffer-backup/coffer/internal/binread"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coffer-backup/coffer/internal/crypt"
)

// Sizes of the device public record (docs/format.md §2.4.1).
const (
	// KEMPublicKeySize is the size of an MLKEM768-X25519 (X-Wing) public key.
	KEMPublicKeySize = 1216
	// kemSeedSize is the size of an MLKEM768-X25519 private key (its seed).
	kemSeedSize = 32
	// MaxNameSize bounds a device name in bytes.
	MaxNameSize = 128
	// idBytes is how many bytes of SHA-256 of the signing key form the ID.
	idBytes = 16
	// fingerprintBytes is how many bytes of that hash the fingerprint shows.
	fingerprintBytes = 15
)

// labelBinding prefixes the message a device signs to bind its KEM public
// key and name to its signing key (docs/format.md §2.4.1).
const labelBinding = "coffer v1 device binding"

// ErrMalformed is returned (wrapped with context) when bytes read from disk
// or from the store do not follow the format.
var ErrMalformed = errors.New("malformed key object")

// kem is the HPKE key encapsulation mechanism of every device key.
func kem() hpke.KEM { return hpke.MLKEM768X25519() }

// Device is a device's secret identity: an Ed25519 signing key and an
// MLKEM768-X25519 HPKE decryption key, with a human label.
type Device struct {
	ID   string             // DeviceID: hex of the first 16 bytes of SHA-256(signing public key)
	Sign ed25519.PrivateKey // signing key
	KEM  hpke.PrivateKey    // HPKE decryption key (MLKEM768-X25519)
	Name string             // label such as the host name
}

// DevicePublic is what anyone may know of a device. A DevicePublic that
// passes Verify is self-consistent: its ID is derived from Sign, and Sig is
// Sign's signature over the KEM key and the name, so checking the ID or the
// fingerprint also checks the KEM key and the name.
type DevicePublic struct {
	ID   string            // DeviceID, derived from Sign
	Sign ed25519.PublicKey // 32-byte Ed25519 public key
	KEM  []byte            // 1216-byte MLKEM768-X25519 public key
	Name string            // label, 1 to MaxNameSize bytes of printable UTF-8
	Sig  []byte            // Ed25519 signature binding KEM and Name to Sign
}

// NewDevice generates a fresh device identity with the given name.
func NewDevice(name string) (*Device, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating signing key: %w", err)
	}
	k, err := kem().GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("generating HPKE key: %w", err)
	}
	return &Device{ID: DeviceID(pub), Sign: priv, KEM: k, Name: name}, nil
}

// Public returns the device's public identity, signed by the device. Ed25519
// signatures are deterministic, so Public always returns the same value.
func (d *Device) Public() DevicePublic {
	p := DevicePublic{
		ID:   d.ID,
		Sign: bytes.Clone(d.Sign.Public().(ed25519.PublicKey)),
		KEM:  d.KEM.PublicKey().Bytes(),
		Name: d.Name,
	}
	p.Sig = ed25519.Sign(d.Sign, p.bindingMessage())
	return p
}

// Zero overwrites the secret key material the Device holds and drops its
// keys. The HPKE key's expanded internal state is out of reach and is left
// to the garbage collector. The Device must not be used afterwards.
func (d *Device) Zero() {
	clear(d.Sign)
	if d.KEM != nil {
		if seed, err := d.KEM.Bytes(); err == nil {
			clear(seed)
		}
	}
	d.Sign, d.KEM = nil, nil
}

// DeviceID returns the identifier of the device with the given signing key:
// the lower-case hexadecimal form of the first 16 bytes of its SHA-256.
func DeviceID(sign ed25519.PublicKey) string {
	h := sha256.Sum256(sign)
	return hex.EncodeToString(h[:idBytes])
}

// Fingerprint returns the form of the device's identity that humans compare
// when they add a device: the first 15 bytes of SHA-256 of the signing key
// in Crockford base32, six groups of four characters separated by spaces
// (docs/format.md §2.4.1). Because Sig binds the KEM key and the name to
// the signing key, a matching fingerprint vouches for all three once Verify
// has passed.
func (p DevicePublic) Fingerprint() string {
	h := sha256.Sum256(p.Sign)
	return group(string(base32Encode(h[:fingerprintBytes])), " ")
}

// Verify checks that p is a well-formed, self-consistent device identity:
// key sizes, a valid HPKE public key, the ID derived from the signing key,
// a valid name, and the signature binding the KEM key and the name.
func (p DevicePublic) Verify() error {
	if len(p.Sign) != ed25519.PublicKeySize || len(p.Sig) != ed25519.SignatureSize {
		return fmt.Errorf("device public key: bad key or signature size: %w", ErrMalformed)
	}
	if _, err := kem().NewPublicKey(p.KEM); err != nil {
		return fmt.Errorf("device public key: invalid HPKE public key: %w", ErrMalformed)
	}
	if p.ID != DeviceID(p.Sign) {
		return fmt.Errorf("device public key: ID does not match signing key: %w", ErrMalformed)
	}
	if err := checkName(p.Name); err != nil {
		return err
	}
	if !ed25519.Verify(p.Sign, p.bindingMessage(), p.Sig) {
		return fmt.Errorf("device %s: signature binding its keys and name does not verify: %w", p.ID, ErrMalformed)
	}
	return nil
}

// bindingMessage is what a device signs: label || 0x00 || KEM key || name.
func (p DevicePublic) bindingMessage() []byte {
	return crypt.AD(labelBinding, append(bytes.Clone(p.KEM), p.Name...))
}

// checkName accepts 1 to MaxNameSize bytes of valid UTF-8 made only of
// printable characters, so a name read from the store can be shown on a
// terminal without smuggling control or bidirectional-override characters.
func checkName(name string) error {
	if len(name) == 0 || len(name) > MaxNameSize {
		return fmt.Errorf("device name must be 1 to %d bytes, not %d: %w", MaxNameSize, len(name), ErrMalformed)
	}
	if !utf8.ValidString(name) || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return fmt.Errorf("device name must be printable UTF-8: %w", ErrMalformed)
	}
	return nil
}

// AppendPublic appends the device public record (docs/format.md §2.4.1):
// signing key (32) || KEM key (1216) || signature (64) || name length (1) || name.
func AppendPublic(b []byte, p DevicePublic) []byte {
	b = append(b, p.Sign...)
	b = append(b, p.KEM...)
	b = append(b, p.Sig...)
	b = append(b, byte(len(p.Name)))
	return append(b, p.Name...)
}

// ReadPublic parses and verifies a device public record (§2.4.1).
func ReadPublic(r *binread.Reader) (DevicePublic, error) {
	var p DevicePublic
	p.Sign = ed25519.PublicKey(r.Take(ed25519.PublicKeySize))
	p.KEM = r.Take(KEMPublicKeySize)
	p.Sig = r.Take(ed25519.SignatureSize)
	p.Name = string(r.Take(int(r.U8())))
	if r.Err() != nil {
		return p, r.Err()
	}
	p.ID = DeviceID(p.Sign)
	return p, p.Verify()
}

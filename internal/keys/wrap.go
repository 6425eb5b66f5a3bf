package keys

import (
	"crypto/hmac"
	"crypto/hpke"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/coffer-backup/coffer/internal/binread"
	"github.com/coffer-backup/coffer/internal/crypt"
)

// Objects of kind keys (docs/format.md §2.6): a version byte, a type
// byte, then a body that depends on the type. Type 2 was a symmetric
// recovery wrap before root-key epochs and is never written.
const (
	wrapVersion  = 1
	typeDevice   = 1
	typeKeyring  = 3
	typeSealed   = 4
	typeIdentity = 5

	labelWrap        = "coffer v1 root key wrap"
	labelDeviceEntry = "coffer v1 device entry key"

	// hpkeSealedSize is the single-shot HPKE output for a 32-byte root
	// key: the MLKEM768-X25519 encapsulation (1120) then AES-256-GCM
	// ciphertext and tag (32 + 16).
	hpkeSealedSize = hpkeEncSize + crypt.KeySize + hpkeTagSize
	hpkeEncSize    = 1120
	hpkeTagSize    = 16
	macSize        = sha256.Size

	// MaxAccountIDSize bounds an account identifier in bytes.
	MaxAccountIDSize = 255
	// MaxObjectSize bounds a wrapped root-key object, a sealed object and
	// a recovery identity; read no more than this from the store (the
	// largest valid wrapped root key is 2643 bytes).
	MaxObjectSize = 4096
)

// wrapContext returns label || 0x00 || accountID || 0x00 || recipient: the
// HPKE info and the prefix of the device entry's MAC input. recipient is a
// DeviceID (that of the recovery identity for the recovery key).
func wrapContext(accountID, recipient string) []byte {
	return crypt.AD(labelWrap, []byte(accountID+"\x00"+recipient))
}

func checkAccountID(id string) error {
	if len(id) == 0 || len(id) > MaxAccountIDSize {
		return fmt.Errorf("account ID must be 1 to %d bytes, not %d", MaxAccountIDSize, len(id))
	}
	if strings.IndexByte(id, 0) >= 0 {
		return errors.New("account ID contains a NUL byte")
	}
	return nil
}

// hpkeSuite is the ciphersuite of every device wrap.
func hpkeSuite() (hpke.KDF, hpke.AEAD) { return hpke.HKDFSHA256(), hpke.AES256GCM() }

// deviceObject is a root key wrapped to one device.
type deviceObject struct {
	pub    DevicePublic
	sealed []byte // HPKE enc || ciphertext
	mac    []byte
}

func (o *deviceObject) body() []byte {
	b := make([]byte, 0, MaxObjectSize)
	b = append(b, wrapVersion, typeDevice)
	b = AppendPublic(b, o.pub)
	return append(b, o.sealed...)
}

func (o *deviceObject) marshal() []byte { return append(o.body(), o.mac...) }

// tag computes the device entry's MAC under a key derived from the root
// key, so that only a holder of the root key can add a device to the list.
func (o *deviceObject) tag(root *crypt.Key, accountID string) []byte {
	k := derive(root[:], labelDeviceEntry)
	defer k.Zero()
	m := hmac.New(sha256.New, k[:])
	m.Write(wrapContext(accountID, o.pub.ID))
	m.Write(o.body())
	return m.Sum(nil)
}

// readWrapHeader checks the size, version and type of an object of kind
// keys.
func readWrapHeader(b []byte, want byte, limit int) (*binread.Reader, error) {
	if len(b) > limit {
		return nil, fmt.Errorf("%d-byte key object exceeds %d bytes: %w", len(b), limit, ErrMalformed)
	}
	r := binread.New(b, ErrMalformed)
	if v := r.U8(); r.Err() == nil && v != wrapVersion {
		return nil, fmt.Errorf("key object version %d is not supported (want %d): %w", v, wrapVersion, ErrMalformed)
	}
	if t := r.U8(); r.Err() == nil && t != want {
		return nil, fmt.Errorf("key object of type %d, want %d: %w", t, want, ErrMalformed)
	}
	return r, r.Err()
}

func parseDeviceObject(b []byte) (*deviceObject, error) {
	r, err := readWrapHeader(b, typeDevice, MaxObjectSize)
	if err != nil {
		return nil, err
	}
	o := &deviceObject{}
	if o.pub, err = ReadPublic(r); err != nil {
		return nil, err
	}
	o.sealed = r.Take(hpkeSealedSize)
	o.mac = r.Take(macSize)
	return o, r.End()
}

// WrapToDevice wraps a root key to a device, or to the recovery key's
// identity (RecoveryKey.Device), (docs/format.md §2.6): single-shot HPKE to its MLKEM768-X25519 key with HKDF-SHA-256 and
// AES-256-GCM, info binding the account and the device. The object also
// carries the device's public identity and a MAC under the root key, which
// UnwrapDevice checks once it holds the key.
func WrapToDevice(root *crypt.Key, accountID string, dev DevicePublic) ([]byte, error) {
	if err := checkAccountID(accountID); err != nil {
		return nil, err
	}
	if err := dev.Verify(); err != nil {
		return nil, err
	}
	pk, err := kem().NewPublicKey(dev.KEM)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", dev.ID, err)
	}
	kdf, aead := hpkeSuite()
	sealed, err := hpke.Seal(pk, kdf, aead, wrapContext(accountID, dev.ID), root[:])
	if err != nil {
		return nil, fmt.Errorf("wrapping root key to device %s: %w", dev.ID, err)
	}
	o := &deviceObject{pub: dev, sealed: sealed}
	o.mac = o.tag(root, accountID)
	return o.marshal(), nil
}

// UnwrapDevice recovers the account root key from an object WrapToDevice
// made for d. Anything that does not authenticate yields an error wrapping
// crypt.ErrAuth; anything that does not parse, one wrapping ErrMalformed.
func UnwrapDevice(wrapped []byte, accountID string, d *Device) (*crypt.Key, error) {
	if err := checkAccountID(accountID); err != nil {
		return nil, err
	}
	if d.KEM == nil {
		return nil, errors.New("device keys have been zeroed")
	}
	o, err := parseDeviceObject(wrapped)
	if err != nil {
		return nil, fmt.Errorf("device key object: %w", err)
	}
	if o.pub.ID != d.ID {
		return nil, fmt.Errorf("key object is for device %s, not this device %s", o.pub.ID, d.ID)
	}
	kdf, aead := hpkeSuite()
	pt, err := hpke.Open(d.KEM, kdf, aead, wrapContext(accountID, d.ID), o.sealed)
	if err != nil {
		return nil, fmt.Errorf("unwrapping root key for device %s: %w", d.ID, crypt.ErrAuth)
	}
	root, err := rootFrom(pt)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(o.tag(root, accountID), o.mac) {
		root.Zero()
		return nil, fmt.Errorf("device %s entry MAC: %w", d.ID, crypt.ErrAuth)
	}
	return root, nil
}

// rootFrom moves a decrypted root key into a crypt.Key and clears pt.
func rootFrom(pt []byte) (*crypt.Key, error) {
	defer clear(pt)
	if len(pt) != crypt.KeySize {
		return nil, fmt.Errorf("wrapped root key of %d bytes: %w", len(pt), ErrMalformed)
	}
	var k crypt.Key
	copy(k[:], pt)
	return &k, nil
}

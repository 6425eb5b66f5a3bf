package keys

import (
	"crypto/hpke"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/coffer-backup/coffer/internal/crypt"
)

const (
	labelSealed = "coffer v1 sealed to device"
	// MaxSealedSize bounds the plaintext of SealToDevice.
	MaxSealedSize = 2048
	idSize        = 16
)

// sealedInfo returns "coffer v1 sealed to device" || 0x00 || DeviceID ||
// 0x00 || info: the HPKE info of a sealed object.
func sealedInfo(deviceID string, info []byte) []byte {
	return crypt.AD(labelSealed, append([]byte(deviceID+"\x00"), info...))
}

// SealToDevice seals a short message to a device (docs/format.md §2.6):
// single-shot HPKE as in WrapToDevice, with an info of its own that binds
// the recipient and the caller's info (which should name the purpose and
// the context, such as the account), so a sealed object is never taken
// for a wrapped root key or for a message of another purpose.
func SealToDevice(pt, info []byte, dev DevicePublic) ([]byte, error) {
	if len(pt) > MaxSealedSize {
		return nil, fmt.Errorf("%d-byte message exceeds %d bytes", len(pt), MaxSealedSize)
	}
	if err := dev.Verify(); err != nil {
		return nil, err
	}
	pk, err := kem().NewPublicKey(dev.KEM)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", dev.ID, err)
	}
	kdf, aead := hpkeSuite()
	sealed, err := hpke.Seal(pk, kdf, aead, sealedInfo(dev.ID, info), pt)
	if err != nil {
		return nil, fmt.Errorf("sealing to device %s: %w", dev.ID, err)
	}
	id, err := hex.DecodeString(dev.ID)
	if err != nil {
		return nil, fmt.Errorf("device ID %q: %w", dev.ID, ErrMalformed)
	}
	b := append([]byte{wrapVersion, typeSealed}, id...)
	return append(b, sealed...), nil
}

// OpenFromDevice opens, with the device d, an object SealToDevice sealed
// to it with the same info. A wrong device, info or any alteration yields
// an error wrapping crypt.ErrAuth; bytes that do not parse, one wrapping
// ErrMalformed.
func OpenFromDevice(ct, info []byte, d *Device) ([]byte, error) {
	if d.KEM == nil {
		return nil, errors.New("device keys have been zeroed")
	}
	id, sealed, err := parseSealed(ct)
	if err != nil {
		return nil, fmt.Errorf("sealed object: %w", err)
	}
	if id != d.ID {
		return nil, fmt.Errorf("sealed object is for device %s, not this device %s: %w", id, d.ID, crypt.ErrAuth)
	}
	kdf, aead := hpkeSuite()
	pt, err := hpke.Open(d.KEM, kdf, aead, sealedInfo(d.ID, info), sealed)
	if err != nil {
		return nil, fmt.Errorf("opening object sealed to device %s: %w", d.ID, crypt.ErrAuth)
	}
	return pt, nil
}

// parseSealed returns the recipient's DeviceID and the HPKE output of a
// sealed object.
func parseSealed(b []byte) (id string, sealed []byte, err error) {
	r, err := readWrapHeader(b, typeSealed, MaxObjectSize)
	if err != nil {
		return "", nil, err
	}
	id = hex.EncodeToString(r.Take(idSize))
	if r.Err() == nil && r.Len() < hpkeEncSize+hpkeTagSize {
		return "", nil, fmt.Errorf("%d bytes after the header are too few: %w", r.Len(), ErrMalformed)
	}
	return id, r.Take(r.Len()), r.Err()
}

// MarshalIdentity encodes the identity record of the recovery key
// (docs/format.md §2.6): a header and the device public record of
// RecoveryKey.Device.
func MarshalIdentity(p DevicePublic) []byte {
	return AppendPublic([]byte{wrapVersion, typeIdentity}, p)
}

// ParseIdentity decodes and verifies an identity record. The caller must
// check that its ID is the one the device chain records.
func ParseIdentity(b []byte) (DevicePublic, error) {
	r, err := readWrapHeader(b, typeIdentity, MaxObjectSize)
	if err != nil {
		return DevicePublic{}, err
	}
	p, err := ReadPublic(r)
	if err != nil {
		return DevicePublic{}, fmt.Errorf("identity record: %w", err)
	}
	return p, r.End()
}

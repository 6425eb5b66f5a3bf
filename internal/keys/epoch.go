package keys

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/coffer-backup/coffer/internal/crypt"
	"golang.org/x/crypto/chacha20poly1305"
)

// Root-key epochs (docs/format.md §2.6).
const (
	// MaxEpochs bounds the root-key epochs of an account: epochs 0 to
	// MaxEpochs-1, so a keyring holds at most MaxEpochs-1 keys.
	MaxEpochs = 4096
	// MaxKeyringSize is the size of the largest valid keyring object.
	MaxKeyringSize = keyringHeader + (MaxEpochs-1)*crypt.KeySize + chacha20poly1305.Overhead

	keyringHeader    = 2 + 8 + chacha20poly1305.NonceSizeX
	labelKeyringKey  = "coffer v1 keyring key"
	labelKeyringSeal = "coffer v1 keyring"
)

// epochPrefix returns the first 16 hex digits of an epoch's root-key
// commitment, which begin the names of that epoch's objects.
func epochPrefix(commit [32]byte) string { return hex.EncodeToString(commit[:8]) }

// DeviceObjectName returns the name, in the store's keys kind, of the root
// key of the epoch with commitment commit wrapped to the device with the
// given ID: "<c>.device-<id>", <c> the first 16 hex digits of commit.
func DeviceObjectName(commit [32]byte, deviceID string) string {
	return epochPrefix(commit) + ".device-" + deviceID
}

// RecoveryObjectName returns the name of that root key wrapped to the
// recovery key whose identity has ID recoveryID: "<c>.recovery-<r>". The
// object is a device object (WrapToDevice to RecoveryKey.Device).
func RecoveryObjectName(commit [32]byte, recoveryID string) string {
	return epochPrefix(commit) + ".recovery-" + recoveryID
}

// KeyringObjectName returns the name of the keyring of the epoch with
// commitment commit: "<c>.keyring".
func KeyringObjectName(commit [32]byte) string { return epochPrefix(commit) + ".keyring" }

// RecoveryIdentityObjectName returns the name of the identity record of
// the recovery key with ID recoveryID: "recovery-<r>.identity".
func RecoveryIdentityObjectName(recoveryID string) string {
	return "recovery-" + recoveryID + ".identity"
}

// keyringAEAD returns XChaCha20-Poly1305 under HKDF-SHA-256(root,
// "coffer v1 keyring key").
func keyringAEAD(root *crypt.Key) (cipher.AEAD, error) {
	k := derive(root[:], labelKeyringKey)
	defer k.Zero()
	return chacha20poly1305.NewX(k[:])
}

// keyringAD returns "coffer v1 keyring" || 0x00 || accountID || 0x00 ||
// epoch (8 bytes, big-endian).
func keyringAD(accountID string, epoch uint64) []byte {
	return binary.BigEndian.AppendUint64(crypt.AD(labelKeyringSeal, []byte(accountID+"\x00")), epoch)
}

// SealKeyring seals the root keys of the epochs before epoch e =
// len(older) (older[i] is that of epoch i) under a key derived from root,
// the root key of epoch e (docs/format.md §2.6). A device that unwraps
// root can then read everything sealed in earlier epochs.
func SealKeyring(root *crypt.Key, accountID string, older []crypt.Key) ([]byte, error) {
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("drawing nonce: %w", err)
	}
	return sealKeyring(root, accountID, older, nonce)
}

func sealKeyring(root *crypt.Key, accountID string, older []crypt.Key, nonce []byte) ([]byte, error) {
	if err := checkAccountID(accountID); err != nil {
		return nil, err
	}
	e := uint64(len(older))
	if e == 0 || e >= MaxEpochs {
		return nil, fmt.Errorf("keyring of epoch %d: epochs 1 to %d have one", e, MaxEpochs-1)
	}
	aead, err := keyringAEAD(root)
	if err != nil {
		return nil, err
	}
	pt := make([]byte, 0, len(older)*crypt.KeySize)
	defer clear(pt)
	for i := range older {
		pt = append(pt, older[i][:]...)
	}
	b := binary.BigEndian.AppendUint64([]byte{wrapVersion, typeKeyring}, e)
	b = append(b, nonce...)
	return aead.Seal(b, nonce, pt, keyringAD(accountID, e)), nil
}

// OpenKeyring opens the keyring of epoch e with root, the root key of
// epoch e, and returns the root keys of epochs 0 to e-1 in order. Another
// account or epoch, another key or any alteration yields an error wrapping
// crypt.ErrAuth; bytes that do not parse, one wrapping ErrMalformed. The
// caller must still check each key against the chain's commitment.
func OpenKeyring(b []byte, accountID string, e uint64, root *crypt.Key) ([]crypt.Key, error) {
	if err := checkAccountID(accountID); err != nil {
		return nil, err
	}
	if e == 0 || e >= MaxEpochs {
		return nil, fmt.Errorf("keyring of epoch %d: epochs 1 to %d have one", e, MaxEpochs-1)
	}
	nonce, sealed, err := parseKeyring(b, e)
	if err != nil {
		return nil, fmt.Errorf("keyring of epoch %d: %w", e, err)
	}
	aead, err := keyringAEAD(root)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, nonce, sealed, keyringAD(accountID, e))
	if err != nil {
		return nil, fmt.Errorf("keyring of epoch %d: %w", e, crypt.ErrAuth)
	}
	defer clear(pt)
	keys := make([]crypt.Key, e)
	for i := range keys {
		copy(keys[i][:], pt[i*crypt.KeySize:])
	}
	return keys, nil
}

// parseKeyring checks the header and exact length of the keyring of epoch
// e and returns its nonce and sealed part.
func parseKeyring(b []byte, e uint64) (nonce, sealed []byte, err error) {
	r, err := readWrapHeader(b, typeKeyring, MaxKeyringSize)
	if err != nil {
		return nil, nil, err
	}
	if got := r.U64(); r.Err() == nil && got != e {
		return nil, nil, fmt.Errorf("object is for epoch %d: %w", got, ErrMalformed)
	}
	nonce = r.Take(chacha20poly1305.NonceSizeX)
	sealed = r.Take(int(e)*crypt.KeySize + chacha20poly1305.Overhead)
	return nonce, sealed, r.End()
}

package keys

import (
	"bytes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/coffer-backup/coffer/internal/atomicfile"
	"github.com/coffer-backup/coffer/internal/binread"
	"io"
	"os"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// Keystore file layout (docs/format.md §2.4): a cleartext header, then the
// device's secret seeds sealed with XChaCha20-Poly1305 under an Argon2id key
// derived from the passphrase, with the whole header as associated data.
const (
	keystoreMagic   = "COFFERKS"
	keystoreVersion = 1
	kdfArgon2id     = 1
	saltSize        = 16
	secretSize      = ed25519.SeedSize + kemSeedSize
	sealedSize      = secretSize + chacha20poly1305.Overhead
	// maxKeystoreSize bounds the keystore file (the largest valid one is
	// 1580 bytes).
	maxKeystoreSize = 4096
)

// Bounds on KDF parameters, checked before Argon2id runs on them.
const (
	MaxKDFTime      = 16
	MaxKDFMemoryKiB = 1 << 20 // 1 GiB
	MaxKDFThreads   = 16
)

// ErrWrongPassphrase is returned by Load when the keystore does not open:
// the passphrase is wrong, or the file was altered.
var ErrWrongPassphrase = errors.New("wrong passphrase, or keystore damaged")

// KDFParams are the Argon2id (RFC 9106, version 0x13) cost parameters of a
// keystore.
type KDFParams struct {
	Time      uint32 // passes over memory, 1 to MaxKDFTime
	MemoryKiB uint32 // memory in KiB, 8×Threads to MaxKDFMemoryKiB
	Threads   uint8  // lanes, 1 to MaxKDFThreads
}

// DefaultKDFParams returns the parameters new keystores use: 3 passes over
// 64 MiB with 2 lanes.
func DefaultKDFParams() KDFParams {
	return KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 2}
}

// Validate reports whether p lies within the bounds a keystore may carry.
func (p KDFParams) Validate() error {
	if p.Time < 1 || p.Time > MaxKDFTime || p.Threads < 1 || p.Threads > MaxKDFThreads ||
		p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > MaxKDFMemoryKiB {
		return fmt.Errorf("Argon2id parameters t=%d m=%d KiB p=%d out of bounds (t 1..%d, m 8p..%d KiB, p 1..%d): %w",
			p.Time, p.MemoryKiB, p.Threads, MaxKDFTime, MaxKDFMemoryKiB, MaxKDFThreads, ErrMalformed)
	}
	return nil
}

// keystore is a parsed keystore file.
type keystore struct {
	kdf    KDFParams
	salt   []byte
	pub    DevicePublic
	nonce  []byte
	sealed []byte
}

// header returns the cleartext header: everything before the nonce.
func (k *keystore) header() []byte {
	b := make([]byte, 0, maxKeystoreSize)
	b = append(b, keystoreMagic...)
	b = append(b, keystoreVersion, kdfArgon2id)
	b = binary.BigEndian.AppendUint32(b, k.kdf.Time)
	b = binary.BigEndian.AppendUint32(b, k.kdf.MemoryKiB)
	b = append(b, k.kdf.Threads)
	b = append(b, k.salt...)
	return AppendPublic(b, k.pub)
}

func (k *keystore) marshal() []byte {
	return append(append(k.header(), k.nonce...), k.sealed...)
}

// parseKeystore parses a keystore file, checking its version, its KDF
// parameters and its public record without running the KDF.
func parseKeystore(b []byte) (*keystore, error) {
	if len(b) > maxKeystoreSize {
		return nil, fmt.Errorf("%d bytes is too large for a keystore: %w", len(b), ErrMalformed)
	}
	r := binread.New(b, ErrMalformed)
	if string(r.Take(len(keystoreMagic))) != keystoreMagic {
		return nil, fmt.Errorf("not a coffer keystore: %w", ErrMalformed)
	}
	if v := r.U8(); v != keystoreVersion {
		return nil, fmt.Errorf("keystore version %d is not supported (want %d): %w", v, keystoreVersion, ErrMalformed)
	}
	if a := r.U8(); a != kdfArgon2id {
		return nil, fmt.Errorf("keystore KDF %d is not supported: %w", a, ErrMalformed)
	}
	k := &keystore{kdf: KDFParams{Time: r.U32(), MemoryKiB: r.U32(), Threads: r.U8()}}
	k.salt = r.Take(saltSize)
	if r.Err() != nil {
		return nil, r.Err()
	}
	if err := k.kdf.Validate(); err != nil {
		return nil, err
	}
	var err error
	if k.pub, err = ReadPublic(r); err != nil {
		return nil, err
	}
	k.nonce = r.Take(chacha20poly1305.NonceSizeX)
	k.sealed = r.Take(sealedSize)
	return k, r.End()
}

// passphraseKey returns the 32-byte Argon2id(passphrase, salt) under p,
// which must have been validated. Its arena is warmed first (warmArena).
func passphraseKey(passphrase, salt []byte, p KDFParams) []byte {
	warmArena(p)
	key := argon2.IDKey(passphrase, salt, p.Time, p.MemoryKiB, p.Threads, chacha20poly1305.KeySize)
	releaseArena(p)
	return key
}

// passphraseAEAD returns XChaCha20-Poly1305 keyed with passphraseKey.
func passphraseAEAD(passphrase, salt []byte, p KDFParams) (cipher.AEAD, error) {
	key := passphraseKey(passphrase, salt, p)
	defer clear(key)
	return chacha20poly1305.NewX(key)
}

// sealKeystore encodes d as a keystore file sealed under the passphrase.
func sealKeystore(d *Device, passphrase []byte, p KDFParams) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("refusing an empty passphrase")
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	k := &keystore{kdf: p, pub: d.Public(), salt: make([]byte, saltSize), nonce: make([]byte, chacha20poly1305.NonceSizeX)}
	if err := k.pub.Verify(); err != nil {
		return nil, err
	}
	if _, err := rand.Read(k.salt); err != nil {
		return nil, fmt.Errorf("drawing salt: %w", err)
	}
	if _, err := rand.Read(k.nonce); err != nil {
		return nil, fmt.Errorf("drawing nonce: %w", err)
	}
	kemSeed, err := d.KEM.Bytes()
	if err != nil {
		return nil, fmt.Errorf("serialising HPKE key: %w", err)
	}
	seed := d.Sign.Seed()
	defer clear(seed)
	secret := append(append(make([]byte, 0, secretSize), seed...), kemSeed...)
	defer clear(secret)
	aead, err := passphraseAEAD(passphrase, k.salt, p)
	if err != nil {
		return nil, err
	}
	k.sealed = aead.Seal(nil, k.nonce, secret, k.header())
	return k.marshal(), nil
}

// open derives the passphrase key and recovers the device.
func (k *keystore) open(passphrase []byte) (*Device, error) {
	aead, err := passphraseAEAD(passphrase, k.salt, k.kdf)
	if err != nil {
		return nil, err
	}
	secret, err := aead.Open(nil, k.nonce, k.sealed, k.header())
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	defer clear(secret)
	sign := ed25519.NewKeyFromSeed(secret[:ed25519.SeedSize])
	kemKey, err := kem().NewPrivateKey(secret[ed25519.SeedSize:])
	if err != nil || !sign.Public().(ed25519.PublicKey).Equal(k.pub.Sign) || !bytes.Equal(kemKey.PublicKey().Bytes(), k.pub.KEM) {
		clear(sign)
		return nil, fmt.Errorf("secret keys do not match the public keys: %w", ErrMalformed)
	}
	return &Device{ID: k.pub.ID, Sign: sign, KEM: kemKey, Name: k.pub.Name}, nil
}

// Save writes d to a new keystore file at path, sealed under the
// passphrase. It refuses to replace an existing file (the error wraps
// fs.ErrExist). The file has mode 0600 and appears atomically, complete
// and synced to disk, or not at all. The directory must exist.
func Save(path string, d *Device, passphrase []byte, p KDFParams) error {
	return save(path, d, passphrase, p, false)
}

// Replace is Save for an existing keystore, for instance to change its
// passphrase or KDF parameters: it atomically replaces the file.
func Replace(path string, d *Device, passphrase []byte, p KDFParams) error {
	return save(path, d, passphrase, p, true)
}

func save(path string, d *Device, passphrase []byte, p KDFParams, replace bool) error {
	b, err := sealKeystore(d, passphrase, p)
	if err != nil {
		return fmt.Errorf("keystore %s: %w", path, err)
	}
	write := atomicfile.Create
	if replace {
		write = atomicfile.Write
	}
	if err := write(path, b, 0o600); err != nil {
		return fmt.Errorf("keystore %s: %w", path, err)
	}
	return nil
}

// Load reads the keystore at path and opens it with the passphrase. A
// wrong passphrase, or a file altered after it was written, yields an error
// wrapping ErrWrongPassphrase.
func Load(path string, passphrase []byte) (*Device, error) {
	k, err := readKeystore(path)
	if err != nil {
		return nil, err
	}
	d, err := k.open(passphrase)
	if err != nil {
		return nil, fmt.Errorf("keystore %s: %w", path, err)
	}
	return d, nil
}

// LoadPublic reads the public identity of the keystore at path without the
// passphrase. The identity is verified for self-consistency (see
// DevicePublic.Verify) but, the header being authenticated only by the
// passphrase, not proved to belong to the sealed keys.
func LoadPublic(path string) (DevicePublic, error) {
	k, err := readKeystore(path)
	if err != nil {
		return DevicePublic{}, err
	}
	return k.pub, nil
}

func readKeystore(path string) (*keystore, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening keystore: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeystoreSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading keystore %s: %w", path, err)
	}
	k, err := parseKeystore(b)
	if err != nil {
		return nil, fmt.Errorf("keystore %s: %w", path, err)
	}
	return k, nil
}

package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/coffer-backup/coffer/internal/crypt"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json and the object files it names")

// vectors is testdata/vectors.json, the known answers of docs/format.md
// §2.4 to §2.6. Byte strings are hexadecimal.
type vectors struct {
	Devices  []deviceIDVector `json:"device_ids"`
	Recovery []recoveryVector `json:"recovery_keys"`
	KDF      []kdfVector      `json:"keystore_kdf"`
	Keystore keystoreVector   `json:"keystore"`
	Wraps    wrapVectors      `json:"wraps"`
	Keyrings []keyringVector  `json:"keyrings"`
	Sealed   sealedVector     `json:"sealed"`
	Names    nameVector       `json:"epoch_names"`
}

// keyringVector: the keyring of Epoch sealed under Root with Nonce, holding
// the root keys Older of the earlier epochs; Object is its exact encoding.
type keyringVector struct {
	Account string   `json:"account_id"`
	Epoch   uint64   `json:"epoch"`
	Root    string   `json:"root_key"`
	Older   []string `json:"older_root_keys"`
	Nonce   string   `json:"nonce"`
	Object  string   `json:"object"`
}

// sealedVector: File holds Plaintext sealed to the keystore vector's device
// with Info.
type sealedVector struct {
	File      string `json:"file"`
	Info      string `json:"info"`
	Plaintext string `json:"plaintext"`
}

// nameVector: the object names of an epoch with commitment Commit.
type nameVector struct {
	Commit     string `json:"commitment"`
	DeviceID   string `json:"device_id"`
	RecoveryID string `json:"recovery_id"`
	Device     string `json:"device_object"`
	Recovery   string `json:"recovery_object"`
	Keyring    string `json:"keyring_object"`
	Identity   string `json:"recovery_identity_object"`
}

// deviceIDVector: an Ed25519 seed, its public key, DeviceID and fingerprint.
type deviceIDVector struct {
	Seed        string `json:"ed25519_seed"`
	Public      string `json:"ed25519_public"`
	ID          string `json:"device_id"`
	Fingerprint string `json:"fingerprint"`
}

// recoveryVector: a recovery key, its text form and derived keys.
type recoveryVector struct {
	Key        string `json:"key"`
	Text       string `json:"text"`
	SigningPub string `json:"signing_public"`
	WrapKey    string `json:"wrap_key"`
	// ID and KEMHash identify the recovery key's identity (§2.6): its
	// DeviceID and the SHA-256 of its MLKEM768-X25519 public key.
	ID      string `json:"recovery_id"`
	KEMHash string `json:"kem_public_sha256"`
}

// kdfVector: Argon2id of a passphrase under a salt and parameters.
type kdfVector struct {
	Passphrase string `json:"passphrase"`
	Salt       string `json:"salt"`
	Time       uint32 `json:"t"`
	MemoryKiB  uint32 `json:"m_kib"`
	Threads    uint8  `json:"p"`
	Key        string `json:"key"`
}

// keystoreVector: a keystore file that must open with the passphrase.
type keystoreVector struct {
	File       string `json:"file"`
	Passphrase string `json:"passphrase"`
	ID         string `json:"device_id"`
	Name       string `json:"name"`
}

// wrapVectors: objects wrapping Root, which must open with the keystore's
// device and with the recovery key's identity. Account is an account ID as
// a repository has one (32 lower-case hex digits), and DeviceInfo and
// RecoveryInfo the context W(A, r) of each object (docs/format.md §2.6),
// in hex, which show that A enters as those 32 ASCII characters.
type wrapVectors struct {
	Account      string `json:"account_id"`
	Root         string `json:"root_key"`
	DeviceFile   string `json:"device_object_file"`
	Recovery     string `json:"recovery_key_text"`
	RecoveryFile string `json:"recovery_object_file"`
	DeviceInfo   string `json:"device_wrap_info"`
	RecoveryInfo string `json:"recovery_wrap_info"`
}

const vectorsFile = "testdata/vectors.json"

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in vectors: %v", err)
	}
	return b
}

func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// smallKDF keeps Argon2id cheap in tests.
var smallKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

// TestGenerateVectors rewrites the vectors with -update. The deterministic
// answers it writes were checked against an independent implementation
// (Python's cryptography package) when first generated; the objects are
// random and only need to keep opening.
func TestGenerateVectors(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/vectors.json")
	}
	var v vectors
	for _, seed := range [][]byte{make([]byte, 32), seq(32, 0)} {
		pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
		p := DevicePublic{Sign: pub}
		v.Devices = append(v.Devices, deviceIDVector{hex.EncodeToString(seed), hex.EncodeToString(pub), DeviceID(pub), p.Fingerprint()})
	}
	for _, key := range [][]byte{make([]byte, 32), bytes.Repeat([]byte{0xff}, 32), seq(32, 0), seq(32, 0xa0)} {
		rk := &RecoveryKey{key: [32]byte(key)}
		wk := derive(key, labelRecoveryWrap)
		rd := recoveryDevice(t, rk)
		kh := sha256.Sum256(rd.Public().KEM)
		v.Recovery = append(v.Recovery, recoveryVector{hex.EncodeToString(key), rk.String(),
			hex.EncodeToString(rk.SigningKey().Public().(ed25519.PublicKey)), hex.EncodeToString(wk[:]), rd.ID, hex.EncodeToString(kh[:])})
	}
	for _, p := range []KDFParams{smallKDF, {Time: 2, MemoryKiB: 256, Threads: 2}, DefaultKDFParams()} {
		salt := seq(saltSize, 0)
		key := passphraseKey([]byte("correct horse battery staple"), salt, p)
		v.KDF = append(v.KDF, kdfVector{"correct horse battery staple", hex.EncodeToString(salt), p.Time, p.MemoryKiB, p.Threads, hex.EncodeToString(key)})
	}

	d, err := NewDevice("vector device")
	if err != nil {
		t.Fatal(err)
	}
	v.Keystore = keystoreVector{"keystore-v1.bin", "correct horse battery staple", d.ID, d.Name}
	ks, err := sealKeystore(d, []byte(v.Keystore.Passphrase), smallKDF)
	if err != nil {
		t.Fatal(err)
	}
	root := crypt.Key(seq(32, 0x40))
	rk := &RecoveryKey{key: [32]byte(seq(32, 0xa0))}
	rd, err := rk.Device()
	if err != nil {
		t.Fatal(err)
	}
	const account = "0123456789abcdef0123456789abcdef"
	v.Wraps = wrapVectors{account, hex.EncodeToString(root[:]), "device-v1.bin", rk.String(), "recovery-wrap-v1.bin",
		hex.EncodeToString(wrapContext(account, d.ID)), hex.EncodeToString(wrapContext(account, rd.ID))}
	dw, err := WrapToDevice(&root, v.Wraps.Account, d.Public())
	if err != nil {
		t.Fatal(err)
	}
	rw, err := WrapToDevice(&root, v.Wraps.Account, rd.Public())
	if err != nil {
		t.Fatal(err)
	}
	v.Keyrings = []keyringVector{keyringVectorOf(t, 1), keyringVectorOf(t, 3)}
	v.Sealed = sealedVector{"sealed-v1.bin", "coffer test vector", "a short secret"}
	sealed, err := SealToDevice([]byte(v.Sealed.Plaintext), []byte(v.Sealed.Info), d.Public())
	if err != nil {
		t.Fatal(err)
	}
	commit := [32]byte(seq(32, 0xc0))
	v.Names = nameVector{hex.EncodeToString(commit[:]), d.ID, rd.ID, DeviceObjectName(commit, d.ID),
		RecoveryObjectName(commit, rd.ID), KeyringObjectName(commit), RecoveryIdentityObjectName(rd.ID)}
	j, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{v.Keystore.File: ks, v.Wraps.DeviceFile: dw, v.Wraps.RecoveryFile: rw, v.Sealed.File: sealed, "vectors.json": append(j, '\n')} {
		if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// keyringVectorOf builds the keyring of epoch e from fixed keys: root
// 32×(0x50+e), older key i 32×(0x50+i), nonce 0x00, 0x01, ….
func keyringVectorOf(t testing.TB, e int) keyringVector {
	t.Helper()
	root := crypt.Key(bytes.Repeat([]byte{0x50 + byte(e)}, 32))
	older := make([]crypt.Key, e)
	v := keyringVector{Account: "0123456789abcdef0123456789abcdef", Epoch: uint64(e), Root: hex.EncodeToString(root[:]),
		Nonce: hex.EncodeToString(seq(24, 0))}
	for i := range older {
		older[i] = crypt.Key(bytes.Repeat([]byte{0x50 + byte(i)}, 32))
		v.Older = append(v.Older, hex.EncodeToString(older[i][:]))
	}
	b, err := sealKeyring(&root, v.Account, older, seq(24, 0))
	if err != nil {
		t.Fatal(err)
	}
	v.Object = hex.EncodeToString(b)
	return v
}

package keys

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"

	"github.com/coffer-backup/coffer/internal/crypt"
)

// mustKeyring seals testRoot's keyring of epoch 2.
func mustKeyring(t testing.TB) []byte {
	t.Helper()
	b, err := SealKeyring(&testRoot, testAccount, []crypt.Key{{0: 1}, {0: 2}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKeyringVectors reproduces the fixed keyrings of the vectors byte for
// byte and opens them.
func TestKeyringVectors(t *testing.T) {
	for _, v := range loadVectors(t).Keyrings {
		root := crypt.Key(unhex(t, v.Root))
		older := make([]crypt.Key, len(v.Older))
		for i, k := range v.Older {
			older[i] = crypt.Key(unhex(t, k))
		}
		b, err := sealKeyring(&root, v.Account, older, unhex(t, v.Nonce))
		if err != nil || hex.EncodeToString(b) != v.Object {
			t.Fatalf("epoch %d: sealed %x, %v; want %s", v.Epoch, b, err, v.Object)
		}
		got, err := OpenKeyring(unhex(t, v.Object), v.Account, v.Epoch, &root)
		if err != nil || len(got) != len(older) {
			t.Fatalf("epoch %d: opened %d keys, %v", v.Epoch, len(got), err)
		}
		for i := range got {
			if !got[i].Equal(&older[i]) {
				t.Errorf("epoch %d: key %d differs", v.Epoch, i)
			}
		}
	}
}

func TestKeyringRefuses(t *testing.T) {
	good := mustKeyring(t)
	if keys, err := OpenKeyring(good, testAccount, 2, &testRoot); err != nil || keys[1] != (crypt.Key{0: 2}) {
		t.Fatalf("good keyring: %v", err)
	}
	if bytes.Equal(good, mustKeyring(t)) {
		t.Fatal("two keyrings are identical: the nonce must be random")
	}
	other := crypt.Key(seq(32, 0x41))
	for _, tc := range []struct {
		name    string
		b       []byte
		account string
		epoch   uint64
		root    *crypt.Key
		want    error
	}{
		{"another root", good, testAccount, 2, &other, crypt.ErrAuth},
		{"another account", good, "acct", 2, &testRoot, crypt.ErrAuth},
		{"another epoch", good, testAccount, 3, &testRoot, ErrMalformed},
		{"epoch field altered", append(append(bytes.Clone(good[:9]), 3), good[10:]...), testAccount, 3, &testRoot, ErrMalformed},
		{"epoch 0", good, testAccount, 0, &testRoot, nil},
		{"epoch too large", good, testAccount, MaxEpochs, &testRoot, nil},
		{"truncated", good[:len(good)-1], testAccount, 2, &testRoot, ErrMalformed},
		{"trailing byte", append(bytes.Clone(good), 0), testAccount, 2, &testRoot, ErrMalformed},
		{"device object", readTestdata(t, loadVectors(t).Wraps.DeviceFile), testAccount, 2, &testRoot, ErrMalformed},
		{"oversized", make([]byte, MaxKeyringSize+1), testAccount, 2, &testRoot, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenKeyring(tc.b, tc.account, tc.epoch, tc.root)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	for _, n := range []int{0, MaxEpochs} {
		if _, err := SealKeyring(&testRoot, testAccount, make([]crypt.Key, n)); err == nil {
			t.Errorf("sealed a keyring of %d keys", n)
		}
	}
	if MaxKeyringSize != 131090 {
		t.Errorf("MaxKeyringSize = %d, the spec says 131090", MaxKeyringSize)
	}
}

func TestSealToDevice(t *testing.T) {
	info := []byte("contact share")
	b, err := SealToDevice([]byte("secret"), info, testDevice.Public())
	if err != nil {
		t.Fatal(err)
	}
	pt, err := OpenFromDevice(b, info, testDevice)
	if err != nil || string(pt) != "secret" {
		t.Fatalf("OpenFromDevice = %q, %v", pt, err)
	}
	other, err := NewDevice("other")
	if err != nil {
		t.Fatal(err)
	}
	impostor := *other
	impostor.ID = testDevice.ID
	wrap, err := WrapToDevice(&testRoot, testAccount, testDevice.Public())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		info string
		d    *Device
		want error
	}{
		{"other info", b, "other", testDevice, crypt.ErrAuth},
		{"other device", b, string(info), other, crypt.ErrAuth},
		{"other key, same ID", b, string(info), &impostor, crypt.ErrAuth},
		{"wrapped root key", wrap, string(info), testDevice, ErrMalformed},
		{"header only", b[:18], string(info), testDevice, ErrMalformed},
		{"truncated", b[:len(b)-1], string(info), testDevice, crypt.ErrAuth},
		{"oversized", make([]byte, MaxObjectSize+1), string(info), testDevice, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := OpenFromDevice(tc.b, []byte(tc.info), tc.d); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := SealToDevice(make([]byte, MaxSealedSize+1), info, testDevice.Public()); err == nil {
		t.Error("sealed an oversized message")
	}
	if big, err := SealToDevice(make([]byte, MaxSealedSize), info, testDevice.Public()); err != nil || len(big) > MaxObjectSize {
		t.Errorf("largest message: %d bytes, %v", len(big), err)
	}
}

// TestSealedVector opens the fixed sealed object with the keystore vector's
// device.
func TestSealedVector(t *testing.T) {
	v := loadVectors(t)
	d, err := Load(filepath.Join("testdata", v.Keystore.File), []byte(v.Keystore.Passphrase))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := OpenFromDevice(readTestdata(t, v.Sealed.File), []byte(v.Sealed.Info), d)
	if err != nil || string(pt) != v.Sealed.Plaintext {
		t.Fatalf("opened %q, %v; want %q", pt, err, v.Sealed.Plaintext)
	}
}

// TestRecoveryIdentityVectors derives each vector recovery key's identity
// and checks its ID, HPKE public key and identity record.
func TestRecoveryIdentityVectors(t *testing.T) {
	for _, v := range loadVectors(t).Recovery {
		rd := recoveryDevice(t, &RecoveryKey{key: [32]byte(unhex(t, v.Key))})
		pub := rd.Public()
		if h := sha256.Sum256(pub.KEM); rd.ID != v.ID || hex.EncodeToString(h[:]) != v.KEMHash {
			t.Errorf("recovery key %s: identity %s, KEM hash %x", v.Key[:8], rd.ID, h)
		}
		p, err := ParseIdentity(MarshalIdentity(pub))
		if err != nil || p.ID != v.ID || !bytes.Equal(p.KEM, pub.KEM) {
			t.Errorf("identity record: %v", err)
		}
	}
}

func TestEpochNameVectors(t *testing.T) {
	n := loadVectors(t).Names
	c := [32]byte(unhex(t, n.Commit))
	for _, tc := range []struct{ got, want string }{
		{DeviceObjectName(c, n.DeviceID), n.Device},
		{RecoveryObjectName(c, n.RecoveryID), n.Recovery},
		{KeyringObjectName(c), n.Keyring},
		{RecoveryIdentityObjectName(n.RecoveryID), n.Identity},
	} {
		if tc.got != tc.want {
			t.Errorf("name %q, want %q", tc.got, tc.want)
		}
	}
}

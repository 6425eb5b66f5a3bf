package keys

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/store"
)

const testAccount = "acct-7f3a"

var testRoot = crypt.Key(seq(32, 0x40))

func TestDeviceWrapRoundTrip(t *testing.T) {
	w, err := WrapToDevice(&testRoot, testAccount, testDevice.Public())
	if err != nil {
		t.Fatal(err)
	}
	if len(w) > MaxObjectSize {
		t.Fatalf("%d-byte object exceeds MaxObjectSize", len(w))
	}
	root, err := UnwrapDevice(w, testAccount, testDevice)
	if err != nil || !root.Equal(&testRoot) {
		t.Fatalf("UnwrapDevice = %v; want the root key", err)
	}
	w2, err := WrapToDevice(&testRoot, testAccount, testDevice.Public())
	if err != nil || bytes.Equal(w, w2) {
		t.Fatalf("two wraps are identical (%v): HPKE must be randomised", err)
	}
}

func TestDeviceWrapRefuses(t *testing.T) {
	other, err := NewDevice("other")
	if err != nil {
		t.Fatal(err)
	}
	w, err := WrapToDevice(&testRoot, testAccount, testDevice.Public())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		unwrap  func() error
		wantErr error
	}{
		{"another account", func() error { _, err := UnwrapDevice(w, testAccount+"x", testDevice); return err }, crypt.ErrAuth},
		{"another device", func() error { _, err := UnwrapDevice(w, testAccount, other); return err }, nil},
		{"keyring as device object", func() error {
			_, err := UnwrapDevice(mustKeyring(t), testAccount, testDevice)
			return err
		}, ErrMalformed},
		{"empty account", func() error { _, err := UnwrapDevice(w, "", testDevice); return err }, nil},
		{"NUL in account", func() error { _, err := UnwrapDevice(w, "a\x00b", testDevice); return err }, nil},
		{"long account", func() error {
			_, err := UnwrapDevice(w, strings.Repeat("a", MaxAccountIDSize+1), testDevice)
			return err
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.unwrap()
			if err == nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestWrapToDeviceChecksIdentity(t *testing.T) {
	p := testDevice.Public()
	p.Name = "renamed by the store"
	if _, err := WrapToDevice(&testRoot, testAccount, p); !errors.Is(err, ErrMalformed) {
		t.Fatalf("wrapped to an identity whose signature fails: %v", err)
	}
	if _, err := WrapToDevice(&testRoot, "", testDevice.Public()); err == nil {
		t.Fatal("wrapped with an empty account ID")
	}
}

// testRecovery is the recovery key of the wrap vectors.
var testRecovery = &RecoveryKey{key: [32]byte(seq(32, 0xa0))}

func recoveryDevice(t testing.TB, rk *RecoveryKey) *Device {
	t.Helper()
	d, err := rk.Device()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRecoveryWrapRoundTrip wraps a root key to the recovery key's
// identity, which only the recovery key itself opens.
func TestRecoveryWrapRoundTrip(t *testing.T) {
	rd := recoveryDevice(t, testRecovery)
	if rd.ID != DeviceID(testRecovery.SigningKey().Public().(ed25519.PublicKey)) || rd.Name != RecoveryName {
		t.Fatalf("recovery identity %s %q", rd.ID, rd.Name)
	}
	if again := recoveryDevice(t, testRecovery); !bytes.Equal(again.Public().KEM, rd.Public().KEM) {
		t.Fatal("the recovery HPKE key is not derived deterministically")
	}
	w, err := WrapToDevice(&testRoot, testAccount, rd.Public())
	if err != nil {
		t.Fatal(err)
	}
	wrong := recoveryDevice(t, &RecoveryKey{key: [32]byte(seq(32, 0xa1))})
	wrong.ID = rd.ID // the name check passes; HPKE must still fail
	for _, tc := range []struct {
		name string
		d    *Device
		want error
	}{
		{"the recovery key", rd, nil},
		{"another recovery key", wrong, crypt.ErrAuth},
		{"a device", testDevice, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, err := UnwrapDevice(w, testAccount, tc.d)
			switch {
			case tc.d == rd && (err != nil || !root.Equal(&testRoot)):
				t.Fatalf("UnwrapDevice = %v; want the root key", err)
			case tc.d != rd && (err == nil || tc.want != nil && !errors.Is(err, tc.want)):
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestWrapVectors opens the fixed objects of testdata/vectors.json: the
// device object with the keystore vector's device, the recovery object
// with the recovery key.
func TestWrapVectors(t *testing.T) {
	v := loadVectors(t)
	w := v.Wraps
	d, err := Load(filepath.Join("testdata", v.Keystore.File), []byte(v.Keystore.Passphrase))
	if err != nil {
		t.Fatal(err)
	}
	root, err := UnwrapDevice(readTestdata(t, w.DeviceFile), w.Account, d)
	if err != nil || hex.EncodeToString(root[:]) != w.Root {
		t.Fatalf("device object: %x, %v; want %s", root, err, w.Root)
	}
	rk, err := ParseRecoveryKey(w.Recovery)
	if err != nil {
		t.Fatal(err)
	}
	rd := recoveryDevice(t, rk)
	root, err = UnwrapDevice(readTestdata(t, w.RecoveryFile), w.Account, rd)
	if err != nil || hex.EncodeToString(root[:]) != w.Root {
		t.Fatalf("recovery object: %x, %v; want %s", root, err, w.Root)
	}
	if got := hex.EncodeToString(wrapContext(w.Account, d.ID)); got != w.DeviceInfo {
		t.Errorf("W(A, device) = %s, want %s", got, w.DeviceInfo)
	}
	if got := hex.EncodeToString(wrapContext(w.Account, rd.ID)); got != w.RecoveryInfo {
		t.Errorf("W(A, recovery) = %s, want %s", got, w.RecoveryInfo)
	}
}

// TestWrapTamper flips a bit in every byte of every kind of object: each
// change must be refused, none may panic.
func TestWrapTamper(t *testing.T) {
	dev, err := WrapToDevice(&testRoot, testAccount, testDevice.Public())
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := SealToDevice([]byte("share"), []byte("info"), testDevice.Public())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		w      []byte
		unwrap func([]byte) error
	}{
		{"device", dev, func(b []byte) error { _, err := UnwrapDevice(b, testAccount, testDevice); return err }},
		{"keyring", mustKeyring(t), func(b []byte) error { _, err := OpenKeyring(b, testAccount, 2, &testRoot); return err }},
		{"sealed", sealed, func(b []byte) error { _, err := OpenFromDevice(b, []byte("info"), testDevice); return err }},
		{"identity", MarshalIdentity(testDevice.Public()), func(b []byte) error { _, err := ParseIdentity(b); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.unwrap(tc.w); err != nil {
				t.Fatalf("untampered object: %v", err)
			}
			for i := range tc.w {
				mask := byte(1) << (i % 8)
				bad := bytes.Clone(tc.w)
				bad[i] ^= mask
				if tc.unwrap(bad) == nil {
					t.Fatalf("byte %d ^ %#x: object still accepted", i, mask)
				}
			}
		})
	}
}

func TestObjectNames(t *testing.T) {
	commit := [32]byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xff}
	for _, tc := range []struct{ got, want string }{
		{DeviceObjectName(commit, testDevice.ID), "0123456789abcdef.device-" + testDevice.ID},
		{RecoveryObjectName(commit, testDevice.ID), "0123456789abcdef.recovery-" + testDevice.ID},
		{KeyringObjectName(commit), "0123456789abcdef.keyring"},
		{RecoveryIdentityObjectName(testDevice.ID), "recovery-" + testDevice.ID + ".identity"},
	} {
		if tc.got != tc.want || !store.ValidName(tc.got) {
			t.Errorf("name %q, want %q, a valid store object name", tc.got, tc.want)
		}
	}
}

package keys

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testPass = []byte("correct horse battery staple")

func TestKeystoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "device.key")
	if err := Save(path, testDevice, testPass, smallKDF); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("keystore mode %v, want 0600", fi.Mode().Perm())
	}
	d, err := Load(path, testPass)
	if err != nil {
		t.Fatal(err)
	}
	sameDevice(t, d, testDevice)
	pub, err := LoadPublic(path)
	if err != nil {
		t.Fatal(err)
	}
	if pub.ID != testDevice.ID || !bytes.Equal(pub.Sig, testDevice.Public().Sig) {
		t.Fatalf("LoadPublic gave %s, want %s", pub.ID, testDevice.ID)
	}
	if _, err := Load(path, []byte("Correct horse battery staple")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: got %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("directory holds %v (%v), want only the keystore", entries, err)
	}
}

func sameDevice(t *testing.T, got, want *Device) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || !bytes.Equal(got.Sign, want.Sign) {
		t.Fatalf("device %s %q differs from %s %q", got.ID, got.Name, want.ID, want.Name)
	}
	gk, err1 := got.KEM.Bytes()
	wk, err2 := want.KEM.Bytes()
	if err1 != nil || err2 != nil || !bytes.Equal(gk, wk) {
		t.Fatalf("HPKE keys differ (%v, %v)", err1, err2)
	}
}

func TestSaveRefusesExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "device.key")
	if err := Save(path, testDevice, testPass, smallKDF); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	other, err := NewDevice("other")
	if err != nil {
		t.Fatal(err)
	}
	if err := Save(path, other, testPass, smallKDF); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Save over a keystore: got %v, want fs.ErrExist", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("refused Save changed the keystore")
	}
	newPass := []byte("a new passphrase")
	if err := Replace(path, testDevice, newPass, smallKDF); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, testPass); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("old passphrase after Replace: got %v", err)
	}
	d, err := Load(path, newPass)
	if err != nil {
		t.Fatal(err)
	}
	sameDevice(t, d, testDevice)
}

func TestSaveErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		path string
		pass []byte
		p    KDFParams
	}{
		{"empty passphrase", filepath.Join(dir, "a"), nil, smallKDF},
		{"bad params", filepath.Join(dir, "b"), testPass, KDFParams{Time: 0, MemoryKiB: 64, Threads: 1}},
		{"missing directory", filepath.Join(dir, "no", "such"), testPass, smallKDF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Save(tc.path, testDevice, tc.pass, tc.p); err == nil {
				t.Fatal("Save succeeded")
			}
			if _, err := os.Stat(tc.path); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("failed Save left %s (%v)", tc.path, err)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("failed saves left %v", entries)
	}
}

func TestKDFParamsBounds(t *testing.T) {
	for _, tc := range []struct {
		p  KDFParams
		ok bool
	}{
		{DefaultKDFParams(), true},
		{smallKDF, true},
		{KDFParams{1, 8, 1}, true},
		{KDFParams{MaxKDFTime, MaxKDFMemoryKiB, MaxKDFThreads}, true},
		{KDFParams{0, 64, 1}, false},
		{KDFParams{MaxKDFTime + 1, 64, 1}, false},
		{KDFParams{1, 7, 1}, false},
		{KDFParams{1, 15, 2}, false},
		{KDFParams{1, MaxKDFMemoryKiB + 1, 1}, false},
		{KDFParams{1, 1 << 31, 1}, false},
		{KDFParams{1, 64, 0}, false},
		{KDFParams{1, 1024, MaxKDFThreads + 1}, false},
	} {
		if err := tc.p.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: Validate = %v, want ok=%v", tc.p, err, tc.ok)
		}
	}
}

func TestKDFVectors(t *testing.T) {
	for _, v := range loadVectors(t).KDF {
		p := KDFParams{v.Time, v.MemoryKiB, v.Threads}
		if testing.Short() && p.MemoryKiB > 1024 {
			continue
		}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		key := passphraseKey([]byte(v.Passphrase), unhex(t, v.Salt), p)
		if hex.EncodeToString(key) != v.Key {
			t.Errorf("%+v: key %x, want %s", p, key, v.Key)
		}
	}
}

// TestKeystoreVector opens the keystore file of testdata/vectors.json.
func TestKeystoreVector(t *testing.T) {
	v := loadVectors(t).Keystore
	path := filepath.Join("testdata", v.File)
	d, err := Load(path, []byte(v.Passphrase))
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != v.ID || d.Name != v.Name {
		t.Fatalf("device %s %q, want %s %q", d.ID, d.Name, v.ID, v.Name)
	}
	pub, err := LoadPublic(path)
	if err != nil || pub.ID != v.ID {
		t.Fatalf("LoadPublic: %s, %v", pub.ID, err)
	}
	// Re-encoding the parsed file reproduces it byte for byte.
	b := readTestdata(t, v.File)
	k, err := parseKeystore(b)
	if err != nil || !bytes.Equal(k.marshal(), b) {
		t.Fatalf("re-encoding differs (%v)", err)
	}
	if k.kdf != smallKDF {
		t.Fatalf("vector keystore has KDF %+v", k.kdf)
	}
}

// TestKeystoreTamper flips a bit in every byte of a keystore: each change
// must be refused, none may panic.
func TestKeystoreTamper(t *testing.T) {
	b, err := sealKeystore(testDevice, testPass, smallKDF)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		mask := byte(1) << (i % 8)
		bad := bytes.Clone(b)
		bad[i] ^= mask
		k, err := parseKeystore(bad)
		if err == nil {
			_, err = k.open(testPass)
		}
		if err == nil {
			t.Fatalf("byte %d ^ %#x: keystore still opens", i, mask)
		}
	}
}

func TestParseKeystoreHostile(t *testing.T) {
	good, err := sealKeystore(testDevice, testPass, smallKDF)
	if err != nil {
		t.Fatal(err)
	}
	withParams := func(tt, m uint32, p byte) []byte {
		b := bytes.Clone(good)
		binary.BigEndian.PutUint32(b[10:], tt)
		binary.BigEndian.PutUint32(b[14:], m)
		b[18] = p
		return b
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "not a coffer keystore"},
		{"other file", []byte("-----BEGIN OPENSSH PRIVATE KEY-----\n"), "not a coffer keystore"},
		{"magic only", []byte(keystoreMagic), "version 0"},
		{"future version", append([]byte(keystoreMagic), 2, 1), "version 2"},
		{"unknown KDF", append([]byte(keystoreMagic), 1, 2), "KDF 2"},
		{"truncated params", good[:12], "truncated"},
		{"huge memory", withParams(1, 0xffffffff, 1), "out of bounds"},
		{"huge time", withParams(0xffffffff, 64, 1), "out of bounds"},
		{"zero time", withParams(0, 64, 1), "out of bounds"},
		{"zero threads", withParams(1, 64, 0), "out of bounds"},
		{"truncated public key", good[:100], "truncated"},
		{"truncated secret", good[:len(good)-1], "truncated"},
		{"trailing byte", append(bytes.Clone(good), 0), "trailing"},
		{"too large", make([]byte, maxKeystoreSize+1), "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := parseKeystore(tc.b)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrMalformed mentioning %q", err, tc.want)
			}
			if time.Since(start) > time.Second {
				t.Fatal("parsing took over a second: did the KDF run?")
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("x"), 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want error
	}{
		{filepath.Join(dir, "missing"), fs.ErrNotExist},
		{big, ErrMalformed},
		{dir, nil}, // a directory: any error will do
	} {
		if _, err := Load(tc.path, testPass); err == nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("Load(%s) = %v, want %v", tc.path, err, tc.want)
		}
		if _, err := LoadPublic(tc.path); err == nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("LoadPublic(%s) = %v, want %v", tc.path, err, tc.want)
		}
	}
}

// TestKeystoreMismatchedSecret seals another device's secret under this
// header: the AEAD opens, but the keys must be refused.
func TestKeystoreMismatchedSecret(t *testing.T) {
	other, err := NewDevice("other")
	if err != nil {
		t.Fatal(err)
	}
	b, err := sealKeystore(other, testPass, smallKDF)
	if err != nil {
		t.Fatal(err)
	}
	ko, err := parseKeystore(b)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := ko.open(testPass)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := secret.KEM.Bytes()
	k := &keystore{kdf: smallKDF, salt: ko.salt, pub: testDevice.Public(), nonce: ko.nonce}
	aead, err := passphraseAEAD(testPass, k.salt, k.kdf)
	if err != nil {
		t.Fatal(err)
	}
	k.sealed = aead.Seal(nil, k.nonce, append(bytes.Clone(secret.Sign.Seed()), seed...), k.header())
	if _, err := k.open(testPass); !errors.Is(err, ErrMalformed) {
		t.Fatalf("mismatched secret: got %v, want ErrMalformed", err)
	}
}

// BenchmarkDefaultKDF measures what unlocking a keystore costs.
func BenchmarkDefaultKDF(b *testing.B) {
	salt := make([]byte, saltSize)
	for b.Loop() {
		passphraseKey(testPass, salt, DefaultKDFParams())
	}
}

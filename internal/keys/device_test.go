package keys

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// testDevice is generated once: key generation is cheap, but tests read
// better sharing one identity.
var testDevice = func() *Device {
	d, err := NewDevice("laptop")
	if err != nil {
		panic(err)
	}
	return d
}()

func TestNewDevice(t *testing.T) {
	d, err := NewDevice("büro-pc 2")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(d.ID) {
		t.Fatalf("ID %q is not 32 lower-case hex digits", d.ID)
	}
	p := d.Public()
	if err := p.Verify(); err != nil {
		t.Fatal(err)
	}
	if p.ID != d.ID || p.Name != d.Name || len(p.KEM) != KEMPublicKeySize {
		t.Fatalf("public identity %+v does not match device %s %q", p, d.ID, d.Name)
	}
	if q := d.Public(); !bytes.Equal(p.Sig, q.Sig) {
		t.Fatal("Public is not deterministic")
	}
	if !regexp.MustCompile(`^([0-9A-HJKMNP-TV-Z]{4} ){5}[0-9A-HJKMNP-TV-Z]{4}$`).MatchString(p.Fingerprint()) {
		t.Fatalf("fingerprint %q is not six groups of four Crockford characters", p.Fingerprint())
	}
	other, err := NewDevice("büro-pc 2")
	if err != nil {
		t.Fatal(err)
	}
	if other.ID == d.ID || other.Public().Fingerprint() == p.Fingerprint() {
		t.Fatal("two devices share an identity")
	}
}

func TestDeviceIDVectors(t *testing.T) {
	for _, v := range loadVectors(t).Devices {
		priv := ed25519.NewKeyFromSeed(unhex(t, v.Seed))
		pub := priv.Public().(ed25519.PublicKey)
		if hex.EncodeToString(pub) != v.Public {
			t.Fatalf("seed %s: public key %x, want %s", v.Seed, pub, v.Public)
		}
		p := DevicePublic{Sign: pub}
		if DeviceID(pub) != v.ID || p.Fingerprint() != v.Fingerprint {
			t.Errorf("key %s: ID %s fingerprint %q, want %s %q", v.Public, DeviceID(pub), p.Fingerprint(), v.ID, v.Fingerprint)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"laptop", true},
		{"Anna's MacBook Pro", true},
		{"büro", true},
		{"服务器", true},
		{strings.Repeat("x", MaxNameSize), true},
		{strings.Repeat("é", MaxNameSize/2), true},
		{"", false},
		{strings.Repeat("x", MaxNameSize+1), false},
		{"tab\there", false},
		{"new\nline", false},
		{"esc\x1b[31m", false},
		{"bidi\u202eevil", false},
		{"nul\x00", false},
		{"bad\xffutf8", false},
	} {
		err := checkName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("checkName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if _, err := NewDevice(tc.name); (err == nil) != tc.ok {
			t.Errorf("NewDevice(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestNamesUnicodeVersion pins the Unicode version of the name rule
// (docs/format.md §2.4.1): names sit in signed chain entries, so every
// reader must judge them by the same tables. A Go release with newer
// tables fails here rather than silently accepting names that readers
// of Unicode 15.0.0 refuse.
func TestNamesUnicodeVersion(t *testing.T) {
	if unicode.Version != "15.0.0" {
		t.Fatalf("unicode.Version = %s: device names are judged by Unicode 15.0.0 (format §2.4.1); use its tables", unicode.Version)
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"shaking \U0001FAE8", true}, // assigned in Unicode 15.0
		{"stroke \u31ef", false},     // assigned in Unicode 15.1
		{"tje \u1c89", false},        // assigned in Unicode 16.0
	} {
		if err := checkName(tc.name); (err == nil) != tc.ok {
			t.Errorf("checkName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	other, err := NewDevice("other")
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 1; return b }
	for _, tc := range []struct {
		name   string
		mutate func(p *DevicePublic)
	}{
		{"ID of another device", func(p *DevicePublic) { p.ID = other.ID }},
		{"upper-case ID", func(p *DevicePublic) { p.ID = strings.ToUpper(p.ID) }},
		{"signing key of another device", func(p *DevicePublic) { p.Sign = other.Public().Sign; p.ID = other.ID }},
		{"KEM key of another device", func(p *DevicePublic) { p.KEM = other.Public().KEM }},
		{"renamed", func(p *DevicePublic) { p.Name = "desktop" }},
		{"invalid name", func(p *DevicePublic) { p.Name = "" }},
		{"altered signature", func(p *DevicePublic) { p.Sig = flip(p.Sig, 10) }},
		{"short signature", func(p *DevicePublic) { p.Sig = p.Sig[:63] }},
		{"short signing key", func(p *DevicePublic) { p.Sign = p.Sign[:31] }},
		{"short KEM key", func(p *DevicePublic) { p.KEM = p.KEM[:KEMPublicKeySize-1] }},
		{"invalid ML-KEM key", func(p *DevicePublic) { p.KEM = bytes.Repeat([]byte{0xff}, KEMPublicKeySize) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testDevice.Public()
			tc.mutate(&p)
			if err := p.Verify(); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Verify = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestDeviceZero(t *testing.T) {
	d, err := NewDevice("to forget")
	if err != nil {
		t.Fatal(err)
	}
	sign := d.Sign
	d.Zero()
	if d.Sign != nil || d.KEM != nil || !bytes.Equal(sign, make([]byte, len(sign))) {
		t.Fatal("Zero left the signing key in place")
	}
	if _, err := UnwrapDevice(nil, "acct", d); err == nil {
		t.Fatal("a zeroed device still unwraps")
	}
}

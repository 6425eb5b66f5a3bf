package keys

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
)

var recoveryRE = regexp.MustCompile(`^([0-9A-HJKMNP-TV-Z]{4}-){13}[0-9A-HJKMNP-TV-Z]{4}$`)

func TestRecoveryRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		rk, err := NewRecoveryKey()
		if err != nil {
			t.Fatal(err)
		}
		s := rk.String()
		if !recoveryRE.MatchString(s) || seen[s] {
			t.Fatalf("%q: not 14 groups of 4, or repeated", s)
		}
		seen[s] = true
		got, err := ParseRecoveryKey(s)
		if err != nil || got.key != rk.key {
			t.Fatalf("ParseRecoveryKey(String()) = %v; want the same key", err)
		}
	}
}

func TestRecoveryVectors(t *testing.T) {
	for _, v := range loadVectors(t).Recovery {
		rk := &RecoveryKey{key: [32]byte(unhex(t, v.Key))}
		if got := rk.String(); got != v.Text {
			t.Errorf("key %s: text %s, want %s", v.Key, got, v.Text)
		}
		if got := hex.EncodeToString(rk.SigningKey().Public().(ed25519.PublicKey)); got != v.SigningPub {
			t.Errorf("key %s: signing public key %s, want %s", v.Key, got, v.SigningPub)
		}
		if wk := derive(rk.key[:], labelRecoveryWrap); hex.EncodeToString(wk[:]) != v.WrapKey {
			t.Errorf("key %s: wrap key %x, want %s", v.Key, wk, v.WrapKey)
		}
		got, err := ParseRecoveryKey(v.Text)
		if err != nil || got.key != rk.key {
			t.Errorf("ParseRecoveryKey(%s) = %v, want key %s", v.Text, err, v.Key)
		}
	}
}

func TestRecoveryErrors(t *testing.T) {
	rk := &RecoveryKey{key: [32]byte(seq(32, 0xa0))}
	s := rk.String()
	for _, tc := range []struct {
		name, in string
		want     error
		pos      string
	}{
		{"empty", "", ErrRecoveryLength, ""},
		{"one group short", s[:len(s)-5], ErrRecoveryLength, ""},
		{"one character short", s[:len(s)-1], ErrRecoveryLength, ""},
		{"one character long", s + "0", ErrRecoveryLength, ""},
		{"key typed twice", s + s, ErrRecoveryLength, ""},
		{"U", "U" + s[1:], ErrRecoveryChar, "character 1 "},
		{"punctuation", s[:10] + "." + s[11:], ErrRecoveryChar, "character 11 "},
		{"underscore", s[:10] + "_" + s[11:], ErrRecoveryChar, "character 11 "},
		{"non-ASCII", "é" + s, ErrRecoveryChar, "character 1 "},
		{"fullwidth digit", s[:4] + "０" + s[4:], ErrRecoveryChar, "character 5 "},
		{"bad character after too many", s + "0!", ErrRecoveryLength, ""},
		{"first character wrong", "N" + s[1:], ErrRecoveryChecksum, ""},
		{"checksum group wrong", s[:len(s)-4] + "0000", ErrRecoveryChecksum, ""},
		{"adjacent characters swapped", s[1:2] + s[:1] + s[2:], ErrRecoveryChecksum, ""},
		// internal/typable/testdata/vectors.json: the all-zero key with a
		// padding bit set and the check character repaired.
		{"padding bit set", "0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0001-CSMS", ErrRecoveryChecksum, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRecoveryKey(tc.in)
			if !errors.Is(err, tc.want) || got != nil {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.pos) {
				t.Fatalf("error %q does not name %q", err, tc.pos)
			}
			for _, g := range strings.Split(s, "-") {
				if strings.Contains(err.Error(), g) {
					t.Fatalf("error %q echoes part of the key", err)
				}
			}
		})
	}
}

func TestRecoveryKeysDiffer(t *testing.T) {
	a := &RecoveryKey{key: [32]byte(seq(32, 0))}
	b := &RecoveryKey{key: [32]byte(seq(32, 1))}
	sa, sb := a.SigningKey(), b.SigningKey()
	if bytes.Equal(sa, sb) || !bytes.Equal(sa, a.SigningKey()) {
		t.Fatal("signing key is not a function of the recovery key")
	}
	wa := derive(a.key[:], labelRecoveryWrap)
	if bytes.Equal(wa[:], sa.Seed()) {
		t.Fatal("wrap key equals signing seed")
	}
	a.Zero()
	if a.key != [32]byte{} {
		t.Fatal("Zero left key bytes")
	}
}

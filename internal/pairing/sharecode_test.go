package pairing

import (
	"bytes"
	"crypto/rand"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/shamir"
	"github.com/coffer-backup/coffer/internal/typable"
)

var shareRE = regexp.MustCompile(`^([0-9A-HJKMNP-TV-Z]{4}-){20}[0-9A-HJKMNP-TV-Z]{4}$`)

func TestShareCodeVectors(t *testing.T) {
	for _, v := range loadVectors(t).ShareCodes {
		c, err := NewShareCode([AccountSize]byte(unhex(t, v.Account)), shamir.Share{X: v.X, Y: unhex(t, v.Y)})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.String(); got != v.Text || !shareRE.MatchString(got) {
			t.Errorf("share %s/%d: text %s, want %s", v.Account, v.X, got, v.Text)
		}
		p, err := ParseShareCode(strings.ToLower(strings.ReplaceAll(v.Text, "-", " ")))
		if err != nil || p.Account() != c.Account() || p.Share().X != v.X || !bytes.Equal(p.Share().Y, unhex(t, v.Y)) {
			t.Errorf("ParseShareCode(%s): %v", v.Text, err)
		}
	}
}

// TestShareCodesRecover splits a secret, passes every share through its
// typable form, and combines the parsed shares.
func TestShareCodesRecover(t *testing.T) {
	secret := make([]byte, ShareSize)
	rand.Read(secret)
	account := [AccountSize]byte(seq(AccountSize, 9))
	shares, err := shamir.Split(secret, 3, 5, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var parsed []shamir.Share
	for _, s := range shares[1:4] {
		c, err := NewShareCode(account, s)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseShareCode(c.String())
		if err != nil || p.Account() != account {
			t.Fatalf("share %d: %v", s.X, err)
		}
		parsed = append(parsed, p.Share())
	}
	if got, err := shamir.Combine(parsed); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("Combine of parsed share codes: %v", err)
	}
}

func TestShareCodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		share shamir.Share
	}{
		{"X zero", shamir.Share{X: 0, Y: make([]byte, ShareSize)}},
		{"short Y", shamir.Share{X: 1, Y: make([]byte, ShareSize-1)}},
		{"long Y", shamir.Share{X: 1, Y: make([]byte, ShareSize+1)}},
	} {
		if _, err := NewShareCode([AccountSize]byte{}, tc.share); !errors.Is(err, ErrMalformed) {
			t.Errorf("NewShareCode %s: %v, want ErrMalformed", tc.name, err)
		}
	}
	zeroX := shareForm.Encode(make([]byte, shareForm.Size)) // checksum-valid, X = 0
	text := loadVectors(t).ShareCodes[1].Text
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"X zero", zeroX, ErrMalformed},
		{"pairing code", loadVectors(t).Codes[0].Text, typable.ErrLength},
		{"short", text[:len(text)-1], typable.ErrLength},
		{"bad character", "*" + text[1:], typable.ErrChar},
	} {
		_, err := ParseShareCode(tc.in)
		if !errors.Is(err, tc.want) || strings.Contains(err.Error(), text[5:14]) {
			t.Errorf("%s: %v, want %v without the code", tc.name, err, tc.want)
		}
	}
}

func TestShareCodeZero(t *testing.T) {
	c, err := NewShareCode([AccountSize]byte{1}, shamir.Share{X: 1, Y: bytes.Repeat([]byte{7}, ShareSize)})
	if err != nil {
		t.Fatal(err)
	}
	c.Zero()
	if !bytes.Equal(c.Share().Y, make([]byte, ShareSize)) {
		t.Error("Zero left share bytes")
	}
}

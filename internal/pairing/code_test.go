package pairing

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/typable"
)

var codeRE = regexp.MustCompile(`^([0-9A-HJKMNP-TV-Z]{4}-){6}[0-9A-HJKMNP-TV-Z]{4}$`)

func TestCodeVectors(t *testing.T) {
	for _, v := range loadVectors(t).Codes {
		c := codeOf(t, v.Code)
		if got := c.String(); got != v.Text {
			t.Errorf("code %s: text %s, want %s", v.Code, got, v.Text)
		}
		if got := c.ID(); got != v.ID {
			t.Errorf("code %s: ID %s, want %s", v.Code, got, v.ID)
		}
		if got := hex.EncodeToString(c.Derive(scheme.LabelKey, 32)); got != v.Key {
			t.Errorf("code %s: key %s, want %s", v.Code, got, v.Key)
		}
		got, err := ParseCode(v.Text)
		if err != nil || got.String() != c.String() {
			t.Errorf("ParseCode(%s) = %v, want code %s", v.Text, err, v.Code)
		}
	}
}

func TestCodeRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c, err := NewCode(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s := c.String()
		if !codeRE.MatchString(s) || seen[s] || seen[c.ID()] {
			t.Fatalf("%q: not 7 groups of 4, or repeated", s)
		}
		seen[s], seen[c.ID()] = true, true
		got, err := ParseCode(s)
		if err != nil || got.String() != c.String() {
			t.Fatalf("ParseCode(String()) = %v; want the same code", err)
		}
	}
	if _, err := NewCode(bytes.NewReader(make([]byte, 15))); err == nil {
		t.Error("NewCode with 15 bytes of randomness: no error")
	}
}

// TestCodeTolerance feeds forms a person might type for the same code.
func TestCodeTolerance(t *testing.T) {
	c := codeOf(t, "000102030405060708090a0b0c0d0e0f")
	s := c.String() // 000G-40R4-0M30-…: 0s and 1s to confuse
	if !strings.ContainsAny(s, "01") {
		t.Fatal("the test code has no 0 or 1 to confuse")
	}
	for _, tc := range []struct{ name, in string }{
		{"canonical", s},
		{"lower case", strings.ToLower(s)},
		{"no dashes", strings.ReplaceAll(s, "-", "")},
		{"spaces", strings.ReplaceAll(s, "-", " ")},
		{"padded and wrapped", "  " + strings.ReplaceAll(s[:14], "-", " - ") + "\r\n\t" + s[14:] + "\n"},
		{"O for 0", strings.ReplaceAll(s, "0", "O")},
		{"o for 0", strings.ReplaceAll(s, "0", "o")},
		{"I for 1", strings.ReplaceAll(s, "1", "I")},
		{"l for 1", strings.ReplaceAll(s, "1", "l")},
		{"L for 1", strings.ReplaceAll(s, "1", "L")},
	} {
		got, err := ParseCode(tc.in)
		if err != nil || got.String() != c.String() {
			t.Errorf("%s: %q: %v", tc.name, tc.in, err)
		}
	}
}

func TestParseCodeErrors(t *testing.T) {
	c := codeOf(t, "ffffffffffffffffffffffffffffffff")
	s := strings.ReplaceAll(c.String(), "-", "")
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"empty", "", typable.ErrLength},
		{"short", s[:27], typable.ErrLength},
		{"long", s + "0", typable.ErrLength},
		{"U", "U" + s[1:], typable.ErrChar},
		{"punctuation", s[:10] + "." + s[11:], typable.ErrChar},
		{"non-ASCII", s[:10] + "é" + s[11:], typable.ErrChar},
		{"bad hash character", s[:26] + "00", typable.ErrChecksum},
		{"adjacent characters swapped", s[:25] + s[26:27] + s[25:26] + s[27:], typable.ErrChecksum},
		// internal/typable/testdata/vectors.json: the all-zero code with a
		// padding bit set and the check character repaired.
		{"padding bit set", "0000-0000-0000-0000-0000-0000-0168", typable.ErrChecksum},
		{"share code", loadVectors(t).ShareCodes[0].Text, typable.ErrLength},
	} {
		_, err := ParseCode(tc.in)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") || (len(tc.in) > 5 && strings.Contains(msg, tc.in[:5])) {
			t.Errorf("%s: error %q spans lines or echoes the input", tc.name, msg)
		}
	}
}

func TestCodeZero(t *testing.T) {
	c := codeOf(t, "000102030405060708090a0b0c0d0e0f")
	c.Zero()
	if c.String() != scheme.Form.Encode(make([]byte, CodeSize)) {
		t.Error("Zero left code bytes")
	}
}

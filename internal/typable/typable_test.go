package typable

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The forms in use: the recovery key (docs/format.md §2.5), pairing codes
// and share codes (docs/pairing.md §P.2, §P.7).
var forms = []Form{
	{What: "recovery key", Size: 32, Hash: 3},
	{What: "pairing code", Size: 16, Hash: 1},
	{What: "share code", Size: 49, Hash: 4},
}

type vector struct {
	What, Payload, Text, Why, Error string
	Size, Hash                      int
}

func (v vector) form() Form { return Form{What: v.What, Size: v.Size, Hash: v.Hash} }

// loadVectors reads testdata/vectors.json, written by testdata/vectors.py
// from the recovery key, pairing code and share code vectors.
func loadVectors(t testing.TB) (valid, invalid []vector) {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Valid, Invalid []vector }
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Valid) < 10 || len(v.Invalid) < 6 {
		t.Fatalf("vectors.json holds too few vectors: %d, %d", len(v.Valid), len(v.Invalid))
	}
	return v.Valid, v.Invalid
}

func TestVectors(t *testing.T) {
	valid, _ := loadVectors(t)
	for _, v := range valid {
		f := v.form()
		payload, err := hex.DecodeString(v.Payload)
		if err != nil || len(payload) != f.Size {
			t.Fatalf("%s: bad payload %q", v.What, v.Payload)
		}
		if got := f.Encode(payload); got != v.Text {
			t.Errorf("%s %s: text %s, want %s", v.What, v.Payload, got, v.Text)
		}
		if got, err := f.Parse(v.Text); err != nil || !bytes.Equal(got, payload) {
			t.Errorf("%s: Parse(%s) = %x, %v, want %s", v.What, v.Text, got, err, v.Payload)
		}
		if n := len(strings.ReplaceAll(v.Text, "-", "")); n != f.Chars() {
			t.Errorf("%s: Chars() = %d, text has %d", v.What, f.Chars(), n)
		}
	}
}

// TestInvalidVectors checks texts whose GF(32) check holds but whose
// padding bits or hash characters are wrong.
func TestInvalidVectors(t *testing.T) {
	_, invalid := loadVectors(t)
	for _, v := range invalid {
		if v.Error != "checksum" {
			t.Fatalf("%s %s: unknown error %q", v.What, v.Why, v.Error)
		}
		got, err := v.form().Parse(v.Text)
		if !errors.Is(err, ErrChecksum) || got != nil {
			t.Errorf("%s, %s: %v, want ErrChecksum", v.What, v.Why, err)
		}
	}
}

func TestChars(t *testing.T) {
	for _, tc := range []struct {
		f    Form
		want int
	}{{forms[0], 56}, {forms[1], 28}, {forms[2], 84}, {Form{Size: 0, Hash: 0}, 1}} {
		if got := tc.f.Chars(); got != tc.want {
			t.Errorf("%+v: Chars() = %d, want %d", tc.f, got, tc.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, f := range forms {
		groups := regexp.MustCompile(`^([0-9A-HJKMNP-TV-Z]{4}-)*[0-9A-HJKMNP-TV-Z]{1,4}$`)
		for range 100 {
			payload := make([]byte, f.Size)
			rand.Read(payload)
			s := f.Encode(payload)
			if !groups.MatchString(s) || len(s) != f.Chars()+(f.Chars()-1)/4 {
				t.Fatalf("%s: %q is not %d characters in groups of 4", f.What, s, f.Chars())
			}
			if got, err := f.Parse(s); err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("%s: Parse(Encode(%x)) = %x, %v", f.What, payload, got, err)
			}
		}
	}
}

// TestTolerance feeds texts a person might type for the same payload.
func TestTolerance(t *testing.T) {
	f := forms[0]
	payload := make([]byte, f.Size)
	for i := range payload {
		payload[i] = byte(i)
	}
	s := f.Encode(payload) // 000G-40R4-0M30-E209-…: 0s and 1s to confuse
	if !strings.Contains(s, "0") || !strings.Contains(s, "1") {
		t.Fatal("the test text has no 0 or no 1 to confuse")
	}
	for _, tc := range []struct{ name, in string }{
		{"canonical", s},
		{"lower case", strings.ToLower(s)},
		{"no dashes", strings.ReplaceAll(s, "-", "")},
		{"spaces", strings.ReplaceAll(s, "-", " ")},
		{"padded and wrapped", "  " + strings.ReplaceAll(s[:34], "-", " - ") + "\r\n\t" + s[34:] + "\n"},
		{"O for 0", strings.ReplaceAll(s, "0", "O")},
		{"o for 0", strings.ReplaceAll(s, "0", "o")},
		{"I for 1", strings.ReplaceAll(s, "1", "I")},
		{"i for 1", strings.ReplaceAll(s, "1", "i")},
		{"l for 1", strings.ReplaceAll(s, "1", "l")},
		{"L for 1", strings.ReplaceAll(s, "1", "L")},
	} {
		if got, err := f.Parse(tc.in); err != nil || !bytes.Equal(got, payload) {
			t.Errorf("%s: %q: %v", tc.name, tc.in, err)
		}
	}
}

func TestErrors(t *testing.T) {
	f := forms[0]
	s := f.Encode(bytes.Repeat([]byte{0xa5}, f.Size))
	for _, tc := range []struct {
		name, in string
		want     error
		msg      string
	}{
		{"empty", "", ErrLength, "recovery key has the wrong number of characters: 0, want 56 (dashes and spaces not counted)"},
		{"one group short", s[:len(s)-5], ErrLength, "recovery key has the wrong number of characters: 52, want 56 (dashes and spaces not counted)"},
		{"one character long", s + "0", ErrLength, "recovery key has the wrong number of characters: more than 56"},
		{"typed twice", s + s, ErrLength, "recovery key has the wrong number of characters: more than 56"},
		{"bad character after too many", s + "0!", ErrLength, "recovery key has the wrong number of characters: more than 56"},
		{"U", "U" + s[1:], ErrChar, "recovery key contains a character that cannot appear in one (character 1 of what was entered)"},
		{"punctuation", s[:10] + "." + s[11:], ErrChar, "recovery key contains a character that cannot appear in one (character 11 of what was entered)"},
		{"underscore", s[:10] + "_" + s[11:], ErrChar, "recovery key contains a character that cannot appear in one (character 11 of what was entered)"},
		{"non-ASCII", "é" + s, ErrChar, "recovery key contains a character that cannot appear in one (character 1 of what was entered)"},
		{"fullwidth digit", s[:4] + "０" + s[4:], ErrChar, "recovery key contains a character that cannot appear in one (character 5 of what was entered)"},
		{"first character wrong", "N" + s[1:], ErrChecksum, "recovery key checksum does not match: a character is mistyped"},
		{"check group wrong", s[:len(s)-4] + "0000", ErrChecksum, "recovery key checksum does not match: a character is mistyped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.Parse(tc.in)
			if !errors.Is(err, tc.want) || got != nil {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err.Error() != tc.msg {
				t.Fatalf("error %q, want %q", err, tc.msg)
			}
		})
	}
}

// TestTypos checks the guarantee of docs/format.md §2.5 for every form:
// every substitution of one character by another and every swap of two
// adjacent different characters (dashes ignored, so across groups too) is
// a checksum error, on every vector and on random payloads.
func TestTypos(t *testing.T) {
	valid, _ := loadVectors(t)
	for _, f := range forms {
		for range 2 {
			payload := make([]byte, f.Size)
			rand.Read(payload)
			valid = append(valid, vector{What: f.What, Size: f.Size, Hash: f.Hash, Text: f.Encode(payload)})
		}
	}
	for _, v := range valid {
		all := typos(v.Text)
		if len(all) < v.form().Chars()*31 {
			t.Fatalf("%s: only %d typos of %s", v.What, len(all), v.Text)
		}
		for _, typo := range all {
			if _, err := v.form().Parse(typo); !errors.Is(err, ErrChecksum) {
				t.Fatalf("%s: typo %s of %s: %v, want ErrChecksum", v.What, typo, v.Text, err)
			}
		}
	}
}

// typos returns, grouped by four, every single-character substitution and
// every swap of two adjacent different characters of the text s.
func typos(s string) []string {
	sym := []byte(strings.ReplaceAll(s, "-", ""))
	var out []string
	add := func(t []byte) { out = append(out, group(t)) }
	for i := range sym {
		for _, c := range []byte(crockford) {
			if c != sym[i] {
				t := bytes.Clone(sym)
				t[i] = c
				add(t)
			}
		}
		if i+1 < len(sym) && sym[i] != sym[i+1] {
			t := bytes.Clone(sym)
			t[i], t[i+1] = t[i+1], t[i]
			add(t)
		}
	}
	return out
}

// FuzzParse checks, for every form, that an accepted text encodes to a
// text that parses to the same payload and encodes to itself.
func FuzzParse(f *testing.F) {
	valid, invalid := loadVectors(f)
	for _, v := range append(valid, invalid...) {
		f.Add(v.Text)
	}
	f.Add("0000-0000-0000")
	f.Fuzz(func(t *testing.T, s string) {
		for _, form := range forms {
			p, err := form.Parse(s)
			if err != nil {
				continue
			}
			text := form.Encode(p)
			again, err := form.Parse(text)
			if err != nil || !bytes.Equal(again, p) || form.Encode(again) != text {
				t.Fatalf("%s %q: accepted, but its text %s does not parse back: %v", form.What, s, text, err)
			}
		}
	})
}

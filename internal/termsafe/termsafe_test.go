package termsafe

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

var vectors = []struct {
	why, in, name, text string
}{
	{"plain ASCII", "/home/ann/notes.txt", "/home/ann/notes.txt", "/home/ann/notes.txt"},
	{"empty", "", "", ""},
	{"spaces and punctuation", `a b  c!"#$%&'()*+,-./:;<=>?@[]^_{|}~`, `a b  c!"#$%&'()*+,-./:;<=>?@[]^_{|}~`, `a b  c!"#$%&'()*+,-./:;<=>?@[]^_{|}~`},
	{"non-ASCII letters", "Grüße/日本語/ελληνικά/עברית", "Grüße/日本語/ελληνικά/עברית", "Grüße/日本語/ελληνικά/עברית"},
	{"emoji and U+FFFD itself", "😀\uFFFD", "😀\uFFFD", "😀\uFFFD"},
	{"backslash", `C:\dir\`, `C:\\dir\\`, `C:\dir\`},
	{"colour sequence", "red\x1b[31mtext\x1b[0m", `red\x1b[31mtext\x1b[0m`, `red\x1b[31mtext\x1b[0m`},
	{"clear screen and title", "\x1b[2J\x1b]0;owned\x07", `\x1b[2J\x1b]0;owned\x07`, `\x1b[2J\x1b]0;owned\x07`},
	{"forged listing line", "a\n/etc/passwd", `a\n/etc/passwd`, `a\n/etc/passwd`},
	{"carriage return", "ok\rBAD", `ok\rBAD`, `ok\rBAD`},
	{"CR LF", "a\r\nb", `a\r\nb`, `a\r\nb`},
	{"tab", "a\tb", `a\tb`, `a\tb`},
	{"NUL, BEL, backspace, DEL", "\x00\x07\x08\x7f", `\x00\x07\x08\x7f`, `\x00\x07\x08\x7f`},
	{"C1 controls: NEL, CSI", "a\u0085b\u009b31m", `a\u0085b\u009b31m`, `a\u0085b\u009b31m`},
	{"first and last C1", "\u0080\u009f", `\u0080\u009f`, `\u0080\u009f`},
	{"right-to-left override", "invoice\u202egpj.exe", `invoice\u202egpj.exe`, `invoice\u202egpj.exe`},
	{"every bidi embedding, override and isolate", "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069", `\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069`, `\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069`},
	{"line and paragraph separators", "a\u2028b\u2029c", `a\u2028b\u2029c`, `a\u2028b\u2029c`},
	{"neighbours of the escaped ranges stay", "\u00a0\u2027\u202f\u2065\u206a", "\u00a0\u2027\u202f\u2065\u206a", "\u00a0\u2027\u202f\u2065\u206a"},
	{"invalid UTF-8 bytes", "a\xffb\xc3", `a\xffb\xc3`, `a\xffb\xc3`},
	{"a C1 control's bytes alone", "\x85", `\x85`, `\x85`},
	{"truncated sequence, then ASCII", "\xe2\x80x", `\xe2\x80x`, `\xe2\x80x`},
	{"surrogate half encoded", "\xed\xa0\x80", `\xed\xa0\x80`, `\xed\xa0\x80`},
	{"backslash escape look-alike", `a\x1b`, `a\\x1b`, `a\x1b`},
	{"mixed", "\\\x1b\u202e\xff", `\\\x1b\u202e\xff`, `\\x1b\u202e\xff`},
}

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		if got := Name(v.in); got != v.name {
			t.Errorf("%s: Name(%q) = %s, want %s", v.why, v.in, got, v.name)
		}
		if got := Text(v.in); got != v.text {
			t.Errorf("%s: Text(%q) = %s, want %s", v.why, v.in, got, v.text)
		}
		checkName(t, v.in)
	}
}

// TestNoAllocation checks the fast path: a string with nothing to escape
// is returned as it is.
func TestNoAllocation(t *testing.T) {
	for _, s := range []string{"/home/ann/notes.txt", "Grüße/日本語", ""} {
		if n := testing.AllocsPerRun(100, func() { _ = Name(s); _ = Text(s) }); n != 0 {
			t.Errorf("%q: %v allocations", s, n)
		}
	}
}

// checkName checks what Name guarantees for in: its result is valid
// UTF-8 without unsafe characters, is in as it is when in has nothing to
// escape, and reads back as in.
func checkName(t *testing.T, in string) {
	t.Helper()
	out := Name(in)
	checkSafe(t, "Name", in, out)
	if clean(in, true) && out != in {
		t.Errorf("Name(%q) = %q, want it unchanged", in, out)
	}
	back, err := unescape(out)
	if err != nil || back != in {
		t.Errorf("Name(%q) = %q reads back as %q (%v)", in, out, back, err)
	}
	text := Text(in)
	checkSafe(t, "Text", in, text)
	if clean(in, false) && text != in {
		t.Errorf("Text(%q) = %q, want it unchanged", in, text)
	}
}

// checkSafe fails unless out is valid UTF-8 without unsafe characters.
func checkSafe(t *testing.T, fn, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s(%q) = %q is not valid UTF-8", fn, in, out)
	}
	if i := strings.IndexFunc(out, isUnsafe); i >= 0 {
		t.Errorf("%s(%q) = %q has an unsafe character at %d", fn, in, out, i)
	}
}

// isUnsafe is the package's rule, written out independently of it.
func isUnsafe(r rune) bool {
	return r <= 0x1f || 0x7f <= r && r <= 0x9f || r == 0x2028 || r == 0x2029 ||
		0x202a <= r && r <= 0x202e || 0x2066 <= r && r <= 0x2069
}

// clean reports whether s has nothing to escape.
func clean(s string, backslash bool) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, isUnsafe) < 0 && (!backslash || !strings.Contains(s, `\`))
}

// unescape reads an escaped name as the inside of a Go string literal.
func unescape(s string) (string, error) {
	return strconv.Unquote(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`)
}

// FuzzName checks Name's guarantees on any input.
func FuzzName(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.in)
	}
	f.Fuzz(func(t *testing.T, in string) { checkName(t, in) })
}

// FuzzInjective checks that distinct inputs give distinct names.
func FuzzInjective(f *testing.F) {
	f.Add("a\x1b", `a\x1b`)
	f.Add("\\", `\\`)
	f.Add("\x85", "\u0085")
	f.Add("\xc2\x85", `\u0085`)
	f.Add("\n", `\n`)
	f.Fuzz(func(t *testing.T, a, b string) {
		if a != b && Name(a) == Name(b) {
			t.Errorf("Name(%q) = Name(%q) = %q", a, b, Name(a))
		}
	})
}

// Package termsafe escapes strings before they are printed for a person,
// so that a name that comes from a store, another device or a file system
// cannot move the cursor, recolour or clear the terminal, reorder what is
// shown, or forge a line of a listing (docs/cli.md, "How names are
// printed"). It does no I/O.
//
// A character is unsafe if it is a C0 control (U+0000–U+001F, including
// tab, newline and carriage return), DEL (U+007F), a C1 control
// (U+0080–U+009F), a line or paragraph separator (U+2028, U+2029), or a
// bidirectional embedding, override or isolate (U+202A–U+202E,
// U+2066–U+2069). A byte that is not part of valid UTF-8 is unsafe too.
// Unsafe characters are written as in a Go string literal:
//
//	\t \n \r          tab, newline, carriage return
//	\xHH              any other C0 control or DEL, and each invalid byte
//	\uHHHH            a C1 control, separator or bidirectional character
//
// with lower-case hex digits. Everything else, including spaces and
// printable non-ASCII letters, is left as it is.
package termsafe

import (
	"strings"
	"unicode/utf8"
)

// Name returns s with its unsafe characters escaped and each backslash
// doubled. The result is valid UTF-8 without unsafe characters; it equals
// s, without allocating, when s has neither; and distinct inputs give
// distinct results: read as the inside of a Go string literal (with any
// '"' escaped), it gives s back byte for byte.
func Name(s string) string { return escape(s, true) }

// Text returns s with its unsafe characters escaped but its backslashes
// left alone, for a message that may quote names already escaped by Name
// or by Go's %q. The result is valid UTF-8 without unsafe characters, and
// equals s, without allocating, when s has none; unlike Name, it is not
// reversible.
func Text(s string) string { return escape(s, false) }

// escape implements Name (backslash true) and Text.
func escape(s string, backslash bool) string {
	i := firstUnsafe(s, backslash)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			writeHex(&b, `\x`, uint32(s[i]), 2)
		case r == '\\' && backslash:
			b.WriteString(`\\`)
		case unsafeRune(r):
			writeRune(&b, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// firstUnsafe returns the index of the first byte of s that needs
// escaping, or -1 if none does.
func firstUnsafe(s string, backslash bool) int {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f || c == '\\' && backslash {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || unsafeRune(r) {
			return i
		}
		i += size
	}
	return -1
}

// unsafeRune reports whether the valid character r is escaped.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x2028, r == 0x2029:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// writeRune writes the escape of an unsafe character.
func writeRune(b *strings.Builder, r rune) {
	switch r {
	case '\t':
		b.WriteString(`\t`)
	case '\n':
		b.WriteString(`\n`)
	case '\r':
		b.WriteString(`\r`)
	default:
		if r < utf8.RuneSelf {
			writeHex(b, `\x`, uint32(r), 2)
		} else {
			writeHex(b, `\u`, uint32(r), 4)
		}
	}
}

// writeHex writes prefix and the low digits hex digits of v.
func writeHex(b *strings.Builder, prefix string, v uint32, digits int) {
	const hex = "0123456789abcdef"
	b.WriteString(prefix)
	for shift := 4 * (digits - 1); shift >= 0; shift -= 4 {
		b.WriteByte(hex[v>>shift&0xf])
	}
}

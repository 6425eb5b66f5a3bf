package pairing

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
)

// Errors of ParseCode and ParseShareCode. None of them ever includes a
// character of what was entered.
var (
	ErrLength   = errors.New("wrong number of characters")
	ErrChar     = errors.New("a character that cannot appear in a code")
	ErrChecksum = errors.New("checksum does not match: a character is mistyped")
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var b32 = base32.NewEncoding(crockford).WithPadding(base32.NoPadding)

// form is one typable encoding of a fixed-size secret (docs/pairing.md
// §P.2): the payload in Crockford base32, the first hash characters of the
// base32 form of SHA-256(payload), and one GF(32) check character, written
// in groups of four joined by dashes.
type form struct {
	what string // how errors name it, e.g. "pairing code"
	size int    // payload bytes
	hash int    // characters of SHA-256(payload), at most 51
}

// chars returns the number of significant characters of the form.
func (f form) chars() int { return b32.EncodedLen(f.size) + f.hash + 1 }

// symbols returns the significant characters encoding payload.
func (f form) symbols(payload []byte) []byte {
	h := sha256.Sum256(payload)
	s := make([]byte, 0, f.chars())
	s = b32.AppendEncode(s, payload)
	s = append(s, b32.EncodeToString(h[:])[:f.hash]...)
	return append(s, crockford[mulX(gfCheck(s))])
}

// encode returns the typable form of payload, which must hold f.size bytes.
func (f form) encode(payload []byte) string {
	sym := f.symbols(payload)
	defer clear(sym)
	var b strings.Builder
	for i := 0; i < len(sym); i += 4 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.Write(sym[i:min(i+4, len(sym))])
	}
	return b.String()
}

// parse returns the payload of a typed form. Letters may be of either
// case; spaces, tabs, line breaks and dashes are ignored; O reads as 0 and
// I or L as 1. Every single mistyped character and every swap of two
// adjacent characters is ErrChecksum.
func (f form) parse(s string) ([]byte, error) {
	sym := make([]byte, 0, f.chars())
	defer clear(sym)
	pos := 0
	for _, r := range s {
		pos++
		if strings.ContainsRune(" \t\r\n-", r) {
			continue
		}
		v := crockfordValue(r)
		if v < 0 {
			return nil, fmt.Errorf("%s: %w (character %d of what was entered)", f.what, ErrChar, pos)
		}
		if len(sym) == f.chars() {
			return nil, fmt.Errorf("%s: %w: more than %d", f.what, ErrLength, f.chars())
		}
		sym = append(sym, crockford[v])
	}
	if len(sym) != f.chars() {
		return nil, fmt.Errorf("%s: %w: %d, want %d (dashes and spaces not counted)", f.what, ErrLength, len(sym), f.chars())
	}
	if gfCheck(sym) != 0 {
		return nil, fmt.Errorf("%s: %w", f.what, ErrChecksum)
	}
	// Re-encoding must give every character back: this checks the hash
	// characters and that the padding bits are zero.
	payload, err := b32.DecodeString(string(sym[:b32.EncodedLen(f.size)]))
	if err != nil || len(payload) != f.size {
		clear(payload)
		return nil, fmt.Errorf("%s: %w", f.what, ErrChecksum)
	}
	want := f.symbols(payload)
	defer clear(want)
	if subtle.ConstantTimeCompare(want, sym) != 1 {
		clear(payload)
		return nil, fmt.Errorf("%s: %w", f.what, ErrChecksum)
	}
	return payload, nil
}

// crockfordValue returns the value of a Crockford base32 character, or -1.
func crockfordValue(r rune) int {
	switch r {
	case 'O', 'o':
		return 0
	case 'I', 'i', 'L', 'l':
		return 1
	}
	if 'a' <= r && r <= 'z' {
		r -= 'a' - 'A'
	}
	if r > 'Z' {
		return -1
	}
	return strings.IndexByte(crockford, byte(r))
}

// gfCheck evaluates, by Horner's rule in GF(32) = GF(2)[x]/(x^5+x^2+1),
// the polynomial whose coefficients are the values of the characters of s,
// first character highest. A complete form evaluates to 0.
func gfCheck(s []byte) byte {
	var acc byte
	for _, c := range s {
		acc = mulX(acc) ^ byte(strings.IndexByte(crockford, c))
	}
	return acc
}

// mulX multiplies a GF(32) element by x.
func mulX(a byte) byte {
	a <<= 1
	if a&0x20 != 0 {
		a ^= 0x25
	}
	return a
}

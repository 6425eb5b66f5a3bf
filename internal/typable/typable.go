// Package typable holds the one text form of a fixed-size secret that a
// person reads, writes down or types (docs/format.md §2.5, docs/pairing.md
// §P.2): the payload in Crockford base32, a few characters of its SHA-256,
// and one GF(32) check character, in groups of four joined by dashes. The
// recovery key, pairing codes and share codes are forms of different sizes.
//
// Parsing is tolerant of case, separators and look-alike letters, catches
// every single mistyped character and every swap of adjacent characters,
// does no I/O, and never puts a character of its input in an error.
package typable

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
)

// Errors of Parse, wrapped with the form's name. None of them ever includes
// a character of what was entered.
var (
	ErrLength   = errors.New("wrong number of characters")
	ErrChar     = errors.New("a character that cannot appear in one")
	ErrChecksum = errors.New("checksum does not match: a character is mistyped")
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var b32 = base32.NewEncoding(crockford).WithPadding(base32.NoPadding)

// Form is one typable encoding of a payload of Size bytes with Hash
// characters of SHA-256(payload), 0 to 52 (docs/pairing.md §P.2). What
// names the form in errors, as a noun phrase such as "recovery key".
type Form struct {
	What string
	Size int
	Hash int
}

// Chars returns the number of significant characters (separators not
// counted) of every text of the form.
func (f Form) Chars() int { return b32.EncodedLen(f.Size) + f.Hash + 1 }

// symbols returns the significant characters encoding payload.
func (f Form) symbols(payload []byte) []byte {
	h := sha256.Sum256(payload)
	s := make([]byte, 0, b32.EncodedLen(len(payload))+f.Hash+1)
	s = b32.AppendEncode(s, payload)
	s = append(s, b32.EncodeToString(h[:])[:f.Hash]...)
	return append(s, crockford[mulX(gfCheck(s))])
}

// Encode returns the text of payload: upper-case characters in groups of
// four joined by dashes. Parse gives the payload back when it holds Size
// bytes, the only payloads the form is for.
func (f Form) Encode(payload []byte) string {
	sym := f.symbols(payload)
	defer clear(sym)
	return group(sym)
}

// group returns sym in groups of four characters joined by dashes.
func group(sym []byte) string {
	var b strings.Builder
	for i := 0; i < len(sym); i += 4 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.Write(sym[i:min(i+4, len(sym))])
	}
	return b.String()
}

// Parse returns the Size-byte payload of a text of the form; the caller
// clears it when done. Letters may be of either case; spaces, tabs, line
// breaks and dashes are ignored; O reads as 0 and I or L as 1. Every single
// mistyped character and every swap of two adjacent characters is an error
// wrapping ErrChecksum; other errors wrap ErrLength, or ErrChar and give
// the character's position.
func (f Form) Parse(s string) ([]byte, error) {
	sym, err := f.significant(s)
	defer clear(sym)
	if err != nil {
		return nil, err
	}
	if gfCheck(sym) != 0 {
		return nil, fmt.Errorf("%s %w", f.What, ErrChecksum)
	}
	// Re-encoding must give every character back: this checks the hash
	// characters and that the padding bits are zero.
	payload, err := b32.DecodeString(string(sym[:b32.EncodedLen(f.Size)]))
	want := f.symbols(payload)
	defer clear(want)
	if err != nil || len(payload) != f.Size || subtle.ConstantTimeCompare(want, sym) != 1 {
		clear(payload)
		return nil, fmt.Errorf("%s %w", f.What, ErrChecksum)
	}
	return payload, nil
}

// significant returns the Chars() characters of s in canonical upper case,
// separators dropped and look-alikes mapped.
func (f Form) significant(s string) ([]byte, error) {
	sym := make([]byte, 0, f.Chars())
	pos := 0
	for _, r := range s {
		pos++
		if strings.ContainsRune(" \t\r\n-", r) {
			continue
		}
		v := crockfordValue(r)
		if v < 0 {
			return sym, fmt.Errorf("%s contains %w (character %d of what was entered)", f.What, ErrChar, pos)
		}
		if len(sym) == f.Chars() {
			return sym, fmt.Errorf("%s has the %w: more than %d", f.What, ErrLength, f.Chars())
		}
		sym = append(sym, crockford[v])
	}
	if len(sym) != f.Chars() {
		return sym, fmt.Errorf("%s has the %w: %d, want %d (dashes and spaces not counted)", f.What, ErrLength, len(sym), f.Chars())
	}
	return sym, nil
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
// first character highest. A complete text evaluates to 0.
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

package pattern

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A glob matches one path component (a name without '/'). It is a
// sequence of tokens, each a literal run, '?', '*' or a bracket
// expression.
type glob []token

type tokenKind uint8

const (
	tokLit   tokenKind = iota // lit, character for character
	tokOne                    // '?': any one character
	tokStar                   // '*': any run of characters, the empty one too
	tokClass                  // a bracket expression: one character of a set
)

type token struct {
	kind  tokenKind
	lit   string
	class *class
}

// class is a bracket expression: a set of characters, or its complement.
type class struct {
	negate bool
	ranges [][2]rune   // inclusive
	named  []namedFunc // [:alpha:] and the like
}

// namedFunc tests one character of a named class, folding case if asked.
type namedFunc func(r rune, fold bool) bool

// Errors of malformed patterns, wrapped by Parse.
var (
	ErrEmpty     = errors.New("empty pattern")
	ErrBackslash = errors.New("ends with an unescaped backslash")
	ErrBracket   = errors.New("'[' without a closing ']' (a bracket expression cannot hold '/'; write \\[ for a literal '[')")
	ErrClassName = errors.New("unknown character class")
	ErrComponent = errors.New("empty path component ('//')")
	ErrDot       = errors.New("a component '.' or '..' (paths are matched without them)")
)

// compileGlob turns the text of one component into tokens. Consecutive
// stars are one star.
func compileGlob(s string) (glob, error) {
	var g glob
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			g = append(g, token{kind: tokLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case '\\':
			if i+1 >= len(s) {
				return nil, ErrBackslash
			}
			_, w := utf8.DecodeRuneInString(s[i+1:])
			lit.WriteString(s[i+1 : i+1+w])
			i += 1 + w
		case '?', '*':
			flush()
			if c == '?' {
				g = append(g, token{kind: tokOne})
			} else if len(g) == 0 || g[len(g)-1].kind != tokStar {
				g = append(g, token{kind: tokStar})
			}
			i++
		case '[':
			flush()
			cl, n, err := parseClass(s[i+1:])
			if err != nil {
				return nil, err
			}
			g = append(g, token{kind: tokClass, class: cl})
			i += 1 + n
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	return g, nil
}

// parseClass parses a bracket expression after its '[' as git's wildmatch
// does: '!' or '^' first negates, a ']' first (after either) is literal,
// "a-z" is a range, "[:name:]" a named class, '\' escapes the next
// character. It returns the class and the bytes consumed, up to and
// including the closing ']'.
func parseClass(s string) (*class, int, error) {
	p := classParser{cl: &class{}}
	i := 0
	if i < len(s) && (s[i] == '!' || s[i] == '^') {
		p.cl.negate = true
		i++
	}
	for first := true; ; first = false {
		if i >= len(s) {
			return nil, 0, ErrBracket
		}
		if s[i] == ']' && !first {
			return p.cl, i + 1, nil
		}
		n, err := p.item(s[i:])
		if err != nil {
			return nil, 0, err
		}
		i += n
	}
}

// classParser builds a class from its items.
type classParser struct {
	cl       *class
	prev     rune // the last single character, which may start a range
	havePrev bool
}

// item parses the item of a bracket expression at the start of s, not
// empty: a named class, a range or a character. It returns the bytes it
// consumed.
func (p *classParser) item(s string) (int, error) {
	if strings.HasPrefix(s, "[:") {
		f, n, err := parseNamed(s)
		if err != nil {
			return 0, err
		}
		if n > 0 {
			p.cl.named = append(p.cl.named, f)
			p.havePrev = false
			return n, nil
		}
	}
	if s[0] == '-' && p.havePrev && len(s) > 1 && s[1] != ']' {
		hi, n, err := classChar(s[1:])
		p.cl.ranges = append(p.cl.ranges, [2]rune{p.prev, hi})
		p.havePrev = false
		return 1 + n, err
	}
	r, n, err := classChar(s)
	p.cl.ranges = append(p.cl.ranges, [2]rune{r, r})
	p.prev, p.havePrev = r, true
	return n, err
}

// classChar reads one character of a bracket expression, '\' escaping it.
// A byte that is not valid UTF-8 stands for itself as utf8.RuneError.
func classChar(s string) (rune, int, error) {
	n := 0
	if s[0] == '\\' {
		if len(s) < 2 {
			return 0, 0, ErrBackslash
		}
		n = 1
	}
	r, w := utf8.DecodeRuneInString(s[n:])
	return r, n + w, nil
}

// parseNamed reads "[:name:]" at the start of s. It returns n == 0 when s
// does not hold ":]" before the bracket expression could end, in which
// case the '[' is an ordinary character (as in git).
func parseNamed(s string) (namedFunc, int, error) {
	end := strings.Index(s[2:], ":]")
	if end < 0 || strings.ContainsRune(s[2:2+end], ']') {
		return nil, 0, nil
	}
	name := s[2 : 2+end]
	f, ok := namedClasses[name]
	if !ok {
		return nil, 0, fmt.Errorf("%w [:%s:]", ErrClassName, name)
	}
	return f, end + 4, nil
}

// namedClasses are POSIX's, over ASCII, as in git. With case folding,
// [:upper:] and [:lower:] both match every ASCII letter.
var namedClasses = map[string]namedFunc{
	"alnum":  ascii(func(c byte) bool { return isAlpha(c) || isDigit(c) }),
	"alpha":  ascii(isAlpha),
	"blank":  ascii(func(c byte) bool { return c == ' ' || c == '\t' }),
	"cntrl":  ascii(func(c byte) bool { return c < 0x20 || c == 0x7f }),
	"digit":  ascii(isDigit),
	"graph":  ascii(func(c byte) bool { return c > 0x20 && c < 0x7f }),
	"print":  ascii(func(c byte) bool { return c >= 0x20 && c < 0x7f }),
	"punct":  ascii(func(c byte) bool { return c > 0x20 && c < 0x7f && !isAlpha(c) && !isDigit(c) }),
	"space":  ascii(func(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }),
	"xdigit": ascii(func(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }),
	"lower": func(r rune, fold bool) bool {
		return r >= 'a' && r <= 'z' || fold && r >= 'A' && r <= 'Z'
	},
	"upper": func(r rune, fold bool) bool {
		return r >= 'A' && r <= 'Z' || fold && r >= 'a' && r <= 'z'
	},
}

func ascii(f func(byte) bool) namedFunc {
	return func(r rune, _ bool) bool { return r < utf8.RuneSelf && f(byte(r)) }
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// has reports whether r is in the class (before negation). With fold, r
// also matches when a case variant of it is in a range.
func (cl *class) has(r rune, fold bool) bool {
	for _, f := range cl.named {
		if f(r, fold) {
			return true
		}
	}
	for _, v := range variants(r, fold) {
		for _, rg := range cl.ranges {
			if v >= rg[0] && v <= rg[1] {
				return true
			}
		}
	}
	return false
}

// variants returns r and, with fold, the other runes of its case-folding
// orbit (Unicode simple folding).
func variants(r rune, fold bool) []rune {
	out := []rune{r}
	if !fold {
		return out
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		out = append(out, f)
	}
	return out
}

// match reports whether g matches all of s. Every token but '*' matches a
// fixed number of characters, so the classic backtracking to the last
// star is exact and takes at most len(g)·len(s) steps.
func (g glob) match(s string, fold bool) bool {
	ti, si := 0, 0
	starT, starS := -1, 0
	for {
		if ti < len(g) && g[ti].kind == tokStar {
			starT, starS = ti, si
			ti++
			continue
		}
		if ti < len(g) {
			if n, ok := g[ti].matchAt(s[si:], fold); ok {
				ti, si = ti+1, si+n
				continue
			}
		} else if si == len(s) {
			return true
		}
		if starT < 0 || starS >= len(s) {
			return false
		}
		_, w := utf8.DecodeRuneInString(s[starS:])
		starS += w
		ti, si = starT+1, starS
	}
}

// matchAt matches a token other than '*' at the start of s and returns the
// bytes it covers.
func (t token) matchAt(s string, fold bool) (int, bool) {
	switch t.kind {
	case tokLit:
		return matchLit(t.lit, s, fold)
	case tokOne:
		if s == "" {
			return 0, false
		}
		_, w := utf8.DecodeRuneInString(s)
		return w, true
	default:
		if s == "" {
			return 0, false
		}
		r, w := utf8.DecodeRuneInString(s)
		return w, t.class.has(r, fold) != t.class.negate
	}
}

// matchLit matches the literal lit at the start of s, character for
// character, folding case if asked. A byte that is not valid UTF-8 matches
// only itself.
func matchLit(lit, s string, fold bool) (int, bool) {
	if !fold {
		return len(lit), strings.HasPrefix(s, lit)
	}
	n := 0
	for len(lit) > 0 {
		if len(s) == 0 {
			return 0, false
		}
		a, wa := utf8.DecodeRuneInString(lit)
		b, wb := utf8.DecodeRuneInString(s)
		if wa == 1 && a == utf8.RuneError || wb == 1 && b == utf8.RuneError {
			if wa != wb || lit[0] != s[0] {
				return 0, false
			}
		} else if a != b && !sameFold(a, b) {
			return 0, false
		}
		lit, s, n = lit[wa:], s[wb:], n+wb
	}
	return n, true
}

// sameFold reports whether a and b are case variants of each other.
func sameFold(a, b rune) bool {
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}

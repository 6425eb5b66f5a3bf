package pattern

import (
	"fmt"
	"strings"
)

// Verdict is what a list of patterns says of one path.
type Verdict uint8

const (
	NoMatch Verdict = iota // no pattern matches
	Matched                // the last pattern that matches is not negated
	Negated                // the last pattern that matches is negated
)

func (v Verdict) String() string {
	switch v {
	case Matched:
		return "matched"
	case Negated:
		return "negated"
	}
	return "no match"
}

// List is an ordered list of patterns, later ones taking precedence, as
// the lines of an ignore file. The zero List is empty.
type List struct {
	pats []*Pattern
}

// NewList returns a list of the given patterns, in order.
func NewList(pats ...*Pattern) List { return List{pats: pats} }

// Add appends patterns, which take precedence over those already there.
func (l *List) Add(pats ...*Pattern) { l.pats = append(l.pats, pats...) }

// Len returns the number of patterns.
func (l List) Len() int { return len(l.pats) }

// Patterns returns the patterns, in order.
func (l List) Patterns() []*Pattern { return l.pats }

// Match returns the verdict of the last pattern that matches path itself
// (see Pattern.Match), or NoMatch.
func (l List) Match(path string, isDir bool) Verdict {
	if len(l.pats) == 0 {
		return NoMatch
	}
	return l.match(split(path), nil, isDir)
}

// MatchRooted is Match, except that a pattern beginning with '/' also
// matches when it matches alt, another form of the same path (such as its
// absolute path, without the leading '/').
func (l List) MatchRooted(path, alt string, isDir bool) Verdict {
	if len(l.pats) == 0 {
		return NoMatch
	}
	return l.match(split(path), split(alt), isDir)
}

func (l List) match(comps, alt []string, isDir bool) Verdict {
	for i := len(l.pats) - 1; i >= 0; i-- {
		p := l.pats[i]
		if p.matchComps(comps, isDir) || alt != nil && p.rooted && p.matchComps(alt, isDir) {
			if p.negate {
				return Negated
			}
			return Matched
		}
	}
	return NoMatch
}

// Excludes reports whether path is excluded as git excludes it: the list
// matches it (Matched), or one of the directories above it, since nothing
// inside an excluded directory is looked at. A negated pattern cannot
// bring back a path whose directory is excluded.
func (l List) Excludes(path string, isDir bool) bool {
	comps := split(path)
	for i := 1; i <= len(comps); i++ {
		dir := isDir || i < len(comps)
		if l.match(comps[:i], nil, dir) == Matched {
			return true
		}
	}
	return false
}

// MayMatchBelow reports whether some pattern that is not negated could
// match a path inside directory dir (see Pattern.MayMatchBelow).
func (l List) MayMatchBelow(dir string) bool {
	for _, p := range l.pats {
		if p.MayMatchBelow(dir) {
			return true
		}
	}
	return false
}

// LineError is a malformed line of an ignore file.
type LineError struct {
	Line int // from 1
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// ParseLines parses the text of an ignore file as git reads a .gitignore:
// a UTF-8 byte order mark at the start is skipped; lines end with "\n" or
// "\r\n"; a line starting with '#' is a comment ("\#" is a literal '#');
// trailing spaces are removed unless escaped with '\'; lines left empty
// are skipped. It returns the patterns of the well-formed lines and a
// *LineError for each other line.
func ParseLines(text string, opts Options) (List, []error) {
	var l List
	var errs []error
	text = strings.TrimPrefix(text, "\uFEFF")
	for i, line := range strings.Split(text, "\n") {
		line = trimTrailingSpaces(strings.TrimSuffix(line, "\r"))
		if line == "" || line[0] == '#' {
			continue
		}
		p, err := parse(line, opts)
		if err != nil {
			errs = append(errs, &LineError{Line: i + 1, Err: fmt.Errorf("pattern %q: %w", line, err)})
			continue
		}
		l.Add(p)
	}
	return l, errs
}

// trimTrailingSpaces removes the spaces (not tabs) that end s, except one
// escaped by a backslash and those before it, as git does.
func trimTrailingSpaces(s string) string {
	end := len(s)
	lastSpace := -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ':
			if lastSpace < 0 {
				lastSpace = i
			}
		case '\\':
			i++
			lastSpace = -1
		default:
			lastSpace = -1
		}
	}
	if lastSpace >= 0 {
		end = lastSpace
	}
	return s[:end]
}

// Package pattern matches '/'-separated relative paths against patterns
// with the semantics of gitignore(5), for excluding items from a backup
// and selecting them in a restore. It does no I/O.
//
// A pattern is matched against a path relative to a base directory (the
// directory of an ignore file, a backed-up path, a snapshot's root):
//
//   - A leading '!' negates the pattern: a path it matches is taken back
//     out of what earlier patterns matched. "\!" is a literal '!'.
//   - A trailing '/' makes the pattern match directories only; it is then
//     removed.
//   - A pattern with a '/' at its start or in its middle is anchored: it
//     matches the whole relative path (a leading '/' only anchors). One
//     without is matched against the last component, at any depth.
//   - '*' matches any run of characters but '/', '?' any one character but
//     '/', and "[...]" one character of a set: ranges "a-z", POSIX classes
//     "[:alpha:]" (ASCII, as in git), "[!...]" or "[^...]" its complement,
//     ']' first for a literal ']'. '\' makes the next character literal.
//   - A component "**" matches any number of components: "**/x" is x at
//     any depth, "a/**/b" is b below a at any depth (a/b too), and a final
//     "/**" matches everything inside (not the directory itself). Any
//     other "**" is a '*'. (A component of three or more asterisks is a
//     "**", as in git.)
//
// Where git would silently match nothing, Parse fails instead: an empty
// pattern, a trailing unescaped '\', a '[' without its ']' (a bracket
// expression cannot hold '/'), an unknown "[:class:]", an empty path
// component ("a//b"), or a component "." or "..".
//
// Characters are UTF-8 (a byte that is not valid UTF-8 is one character
// that matches only itself); with Options.FoldCase letters match their
// Unicode simple case variants.
package pattern

import (
	"fmt"
	"strings"
)

// Options tune how a pattern matches.
type Options struct {
	FoldCase bool // letters match regardless of case
}

// Pattern is one parsed pattern. It is immutable and safe for concurrent
// use.
type Pattern struct {
	text    string
	negate  bool
	dirOnly bool
	rooted  bool // began with '/'
	fold    bool
	segs    []segment // anchored: the whole path; otherwise "**" first
}

// segment matches one path component, or any number of them.
type segment struct {
	globstar bool
	glob     glob
}

// Parse parses one pattern as given on a command line: unlike a line of
// an ignore file (see ParseLines), '#' starts no comment and trailing
// spaces are kept.
func Parse(text string, opts Options) (*Pattern, error) {
	p, err := parse(text, opts)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", text, err)
	}
	return p, nil
}

func parse(text string, opts Options) (*Pattern, error) {
	p := &Pattern{text: text, fold: opts.FoldCase}
	s := text
	if strings.HasPrefix(s, "!") {
		p.negate, s = true, s[1:]
	}
	if strings.HasSuffix(s, "/") && !escapedAt(s, len(s)-1) {
		p.dirOnly, s = true, s[:len(s)-1]
	}
	if strings.HasPrefix(s, "/") {
		p.rooted, s = true, s[1:]
	}
	if s == "" {
		return nil, ErrEmpty
	}
	comps := splitComponents(s)
	segs, err := compileSegments(comps)
	if err != nil {
		return nil, err
	}
	if !p.rooted && len(comps) == 1 {
		segs = append([]segment{{globstar: true}}, segs...)
	}
	p.segs = normalize(segs)
	return p, nil
}

// escapedAt reports whether s[i] is escaped by an odd run of backslashes.
func escapedAt(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// splitComponents splits s at every '/', escaped or not ("\/" is a '/').
func splitComponents(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '/':
			out = append(out, s[start:i])
			start = i + 2
			i++
		case s[i] == '\\':
			i++
		case s[i] == '/':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func compileSegments(comps []string) ([]segment, error) {
	segs := make([]segment, 0, len(comps))
	for _, c := range comps {
		if c == "" {
			return nil, ErrComponent
		}
		if c == "." || c == ".." {
			return nil, ErrDot
		}
		if len(c) >= 2 && strings.Trim(c, "*") == "" { // "***" too, as in git
			segs = append(segs, segment{globstar: true})
			continue
		}
		g, err := compileGlob(c)
		if err != nil {
			return nil, err
		}
		segs = append(segs, segment{glob: g})
	}
	return segs, nil
}

// normalize merges runs of "**" and makes a final "**" match at least one
// component, as "*/**".
func normalize(segs []segment) []segment {
	out := segs[:0:0]
	for _, s := range segs {
		if s.globstar && len(out) > 0 && out[len(out)-1].globstar {
			continue
		}
		out = append(out, s)
	}
	if out[len(out)-1].globstar {
		out[len(out)-1] = segment{glob: glob{{kind: tokStar}}}
		out = append(out, segment{globstar: true})
	}
	return out
}

// String returns the pattern as it was given.
func (p *Pattern) String() string { return p.text }

// Negated reports whether the pattern began with '!'.
func (p *Pattern) Negated() bool { return p.negate }

// Rooted reports whether the pattern began with '/' (after any '!').
func (p *Pattern) Rooted() bool { return p.rooted }

// Literal returns the path a pattern names when it matches exactly one
// relative path: anchored, not negated, without wildcards, escapes or case
// folding. dirOnly reports a trailing '/'.
func (p *Pattern) Literal() (path string, dirOnly, ok bool) {
	if p.negate || p.fold || strings.ContainsAny(p.text, `*?[\`) || p.segs[0].globstar {
		return "", false, false
	}
	s := strings.TrimPrefix(strings.TrimSuffix(p.text, "/"), "/")
	return s, p.dirOnly, true
}

// Match reports whether the pattern matches path, a relative
// '/'-separated path (leading and trailing '/' are ignored), which is a
// directory if isDir. It considers path alone: that a directory above
// path matches is for the caller to know (see List.Excludes).
func (p *Pattern) Match(path string, isDir bool) bool {
	return p.matchComps(split(path), isDir)
}

func (p *Pattern) matchComps(comps []string, isDir bool) bool {
	if p.dirOnly && !isDir {
		return false
	}
	return matchSegs(p.segs, comps, p.fold)
}

// split returns the components of a relative path.
func split(path string) []string {
	path = strings.Trim(path, "/")
	if path == "" {
		return nil
	}
	return strings.Split(path, "/")
}

// matchSegs matches components against segments. A "**" segment matches
// any number of components and every other segment exactly one, so
// backtracking to the last "**" is exact; it takes at most
// len(segs)·len(comps) component matches.
func matchSegs(segs []segment, comps []string, fold bool) bool {
	si, ci := 0, 0
	starS, starC := -1, 0
	for {
		if si < len(segs) && segs[si].globstar {
			starS, starC = si, ci
			si++
			continue
		}
		if si < len(segs) && ci < len(comps) && segs[si].glob.match(comps[ci], fold) {
			si, ci = si+1, ci+1
			continue
		}
		if si == len(segs) && ci == len(comps) {
			return true
		}
		if starS < 0 || starC >= len(comps) {
			return false
		}
		starC++
		si, ci = starS+1, starC
	}
}

// MayMatchBelow reports whether the pattern, if not negated, could match
// some path inside the directory dir (relative, '/'-separated; "" is the
// base). It may say yes when nothing there matches, never no when
// something could.
func (p *Pattern) MayMatchBelow(dir string) bool {
	if p.negate {
		return false
	}
	comps := split(dir)
	for i, c := range comps {
		if i >= len(p.segs) {
			return false
		}
		if p.segs[i].globstar {
			return true
		}
		if !p.segs[i].glob.match(c, p.fold) {
			return false
		}
	}
	return len(p.segs) > len(comps)
}

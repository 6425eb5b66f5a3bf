package pattern

import (
	"strings"
	"testing"
)

// FuzzParse parses arbitrary patterns and matches them against arbitrary
// paths. It checks that a parsed pattern keeps its text, that a literal
// pattern matches its own path, that MayMatchBelow never denies a
// directory above a match, and, for ASCII patterns and paths, that Match
// agrees with refWildmatch, a transcription of git's wildmatch.c and of
// how dir.c applies it. The seeds are every pattern and path of
// testdata/gitignore.txt.
func FuzzParse(f *testing.F) {
	for _, c := range loadTable(f) {
		for _, line := range strings.Split(c.lines, "\n") {
			for _, p := range c.paths {
				f.Add(line, strings.TrimSuffix(p.path, "/"), strings.HasSuffix(p.path, "/"), c.flags["fold"])
			}
			if len(c.paths) == 0 {
				f.Add(line, "x", false, false)
			}
		}
	}
	f.Fuzz(func(t *testing.T, text, path string, isDir, fold bool) {
		p, err := Parse(text, Options{FoldCase: fold})
		if err != nil {
			return
		}
		if p.String() != text {
			t.Fatalf("%q: String() = %q", text, p.String())
		}
		if lit, dirOnly, ok := p.Literal(); ok && !p.Match(lit, dirOnly || isDir) {
			t.Fatalf("%q: does not match its literal path %q", text, lit)
		}
		comps := split(path)
		if len(comps) == 0 || strings.Contains(path, "//") || strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") {
			return
		}
		got := p.Match(path, isDir)
		checkBelow(t, p, comps, got)
		if fold || !plainASCII(text) || !plainASCII(path) || strings.Contains(text, `\/`) {
			return
		}
		if want := refMatch(text, path, isDir); got != want {
			t.Fatalf("pattern %q, path %q (dir %v): Match %v, git's wildmatch %v", text, path, isDir, got, want)
		}
	})
}

// checkBelow checks that a pattern matching a path may match below every
// directory above it.
func checkBelow(t *testing.T, p *Pattern, comps []string, matched bool) {
	if !matched || p.Negated() {
		return
	}
	for i := range comps {
		dir := strings.Join(comps[:i], "/")
		if !p.MayMatchBelow(dir) {
			t.Fatalf("%q matches %q but MayMatchBelow(%q) is false", p, strings.Join(comps, "/"), dir)
		}
	}
}

// plainASCII reports whether s is printable ASCII, where bytes and
// characters are the same (wildmatch works on bytes).
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// refMatch applies a pattern to a path as git's dir.c does: '!' and a
// trailing '/' are taken off, a pattern without '/' is matched against the
// last component, others against the whole path, without a leading '/'.
// (dir.c first compares a literal prefix with strncmp and wildmatches the
// rest; that is left out, since it changes what "x/y**/z" means.)
func refMatch(text, path string, isDir bool) bool {
	text = strings.TrimPrefix(text, "!")
	if strings.HasSuffix(text, "/") {
		if !isDir {
			return false
		}
		text = text[:len(text)-1]
	}
	if !strings.Contains(text, "/") {
		return refWildmatch(text, path[strings.LastIndexByte(path, '/')+1:])
	}
	return refWildmatch(strings.TrimPrefix(text, "/"), path)
}

// Results of refDowild, as in wildmatch.c.
const (
	wmMatch           = 0
	wmNoMatch         = 1
	wmAbortAll        = -1
	wmAbortToStarStar = -2
)

// refWildmatch is git's wildmatch(pattern, text, WM_PATHNAME).
func refWildmatch(pattern, text string) bool {
	return refDowild([]byte(pattern+"\x00"), []byte(text+"\x00")) == wmMatch
}

// refDowild transcribes dowild of git's wildmatch.c (git 2.39) without
// WM_CASEFOLD; p and t end with a NUL, as C strings.
func refDowild(p, t []byte) int {
	pattern := 0
	pi, ti := 0, 0
	for ; p[pi] != 0; ti, pi = ti+1, pi+1 {
		pch, tch := p[pi], t[ti]
		if tch == 0 && pch != '*' {
			return wmAbortAll
		}
		switch pch {
		case '\\':
			pi++
			if t[ti] != p[pi] {
				return wmNoMatch
			}
		case '?':
			if tch == '/' {
				return wmNoMatch
			}
		case '*':
			r, done, npi, nti := refStar(p, t, pi, ti, pattern)
			if done {
				return r
			}
			pi, ti = npi, nti
		case '[':
			r, npi := refClass(p, pi, tch)
			if r != wmMatch {
				return r
			}
			pi = npi
		default:
			if tch != pch {
				return wmNoMatch
			}
		}
	}
	if t[ti] != 0 {
		return wmNoMatch
	}
	return wmMatch
}

// refStar is the '*' case of dowild: it returns a result (done), or where
// the loop continues when "*/" stepped over one directory.
func refStar(p, t []byte, pi, ti, pattern int) (r int, done bool, npi, nti int) {
	matchSlash := false
	pi++
	if p[pi] == '*' {
		prev := pi - 2
		for pi++; p[pi] == '*'; pi++ {
		}
		if (prev < pattern || p[prev] == '/') && (p[pi] == 0 || p[pi] == '/' || p[pi] == '\\' && p[pi+1] == '/') {
			if p[pi] == '/' && refDowild(p[pi+1:], t[ti:]) == wmMatch {
				return wmMatch, true, 0, 0
			}
			matchSlash = true
		}
	}
	if p[pi] == 0 {
		if !matchSlash && strings.IndexByte(string(t[ti:len(t)-1]), '/') >= 0 {
			return wmNoMatch, true, 0, 0
		}
		return wmMatch, true, 0, 0
	}
	if !matchSlash && p[pi] == '/' {
		i := strings.IndexByte(string(t[ti:len(t)-1]), '/')
		if i < 0 {
			return wmNoMatch, true, 0, 0
		}
		return 0, false, pi, ti + i
	}
	for ; t[ti] != 0; ti++ {
		m := refDowild(p[pi:], t[ti:])
		if m != wmNoMatch {
			if !matchSlash || m != wmAbortToStarStar {
				return m, true, 0, 0
			}
		} else if !matchSlash && t[ti] == '/' {
			return wmAbortToStarStar, true, 0, 0
		}
	}
	return wmAbortAll, true, 0, 0
}

// refClass is the '[' case of dowild: wmMatch and the index of the
// closing ']' if tch is in the class, else the result to return.
func refClass(p []byte, pi int, tch byte) (int, int) {
	pi++
	pch := p[pi]
	if pch == '^' {
		pch = '!'
	}
	negated := pch == '!'
	if negated {
		pi++
		pch = p[pi]
	}
	var prev byte
	matched := false
	for {
		if pch == 0 {
			return wmAbortAll, 0
		}
		switch {
		case pch == '\\':
			pi++
			pch = p[pi]
			if pch == 0 {
				return wmAbortAll, 0
			}
			matched = matched || tch == pch
		case pch == '-' && prev != 0 && p[pi+1] != 0 && p[pi+1] != ']':
			pi++
			pch = p[pi]
			if pch == '\\' {
				pi++
				pch = p[pi]
				if pch == 0 {
					return wmAbortAll, 0
				}
			}
			matched = matched || tch <= pch && tch >= prev
			pch = 0
		case pch == '[' && p[pi+1] == ':':
			s := pi + 2
			for pi = s; p[pi] != 0 && p[pi] != ']'; pi++ {
			}
			if p[pi] == 0 {
				return wmAbortAll, 0
			}
			i := pi - s - 1
			if i < 0 || p[pi-1] != ':' {
				pi = s - 2
				pch = '['
				matched = matched || tch == pch
				break
			}
			f, ok := namedClasses[string(p[s:s+i])]
			if !ok {
				return wmAbortAll, 0
			}
			matched = matched || f(rune(tch), false)
			pch = 0
		default:
			matched = matched || tch == pch
		}
		prev = pch
		pi++
		pch = p[pi]
		if pch == ']' {
			break
		}
	}
	if matched == negated || tch == '/' {
		return wmNoMatch, 0
	}
	return wmMatch, pi
}

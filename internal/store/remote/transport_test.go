package remote

import (
	"strings"
	"testing"
)

var pinHex = strings.Repeat("ab", 32)

func TestParseLocation(t *testing.T) {
	tests := []struct {
		loc       string
		canonical string // "" if the location must be refused
	}{
		{"https://example.com", "https://example.com"},
		{"https://Example.COM:8443/", "https://example.com:8443"},
		{"HTTPS://example.com/coffer/", "https://example.com/coffer"},
		{"https://example.com:8443#sha256=" + pinHex, "https://example.com:8443#sha256=" + pinHex},
		{"https://example.com#sha256=" + strings.ToUpper(pinHex), "https://example.com#sha256=" + pinHex},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://127.3.4.5", "http://127.3.4.5"},
		{"http://[::1]:9", "http://[::1]:9"},
		{"http://localhost:80/x", "http://localhost:80/x"},
		{"http://example.com", ""},
		{"http://10.0.0.1:80", ""},
		{"http://[::2]:80", ""},
		{"http://127.0.0.1#sha256=" + pinHex, ""},
		{"https://example.com#sha256=" + pinHex[:62], ""},
		{"https://example.com#sha256=" + pinHex + "00", ""},
		{"https://example.com#sha1=" + pinHex, ""},
		{"https://example.com#sha256=" + strings.Repeat("zz", 32), ""},
		{"https://user:pw@example.com", ""},
		{"https://example.com?x=1", ""},
		{"https://example.com?", ""},
		{"https://", ""},
		{"https://:443", ""},
		{"ftp://example.com", ""},
		{"file:///tmp/x", ""},
		{"example.com", ""},
		{"https://exa mple.com", ""},
	}
	for _, tc := range tests {
		got, err := Canonical(tc.loc)
		switch {
		case tc.canonical == "" && err == nil:
			t.Errorf("%q: accepted as %q", tc.loc, got)
		case tc.canonical != "" && (err != nil || got != tc.canonical):
			t.Errorf("%q: got %q, %v; want %q", tc.loc, got, err, tc.canonical)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:80", true}, {"[::1]:443", true}, {"127.9.9.9:1", true},
		{"10.0.0.1:80", false}, {"[2001:db8::1]:80", false}, {"localhost:80", false}, {"garbage", false},
	}
	for _, tc := range tests {
		if err := loopbackOnly("tcp", tc.addr, nil); (err == nil) != tc.ok {
			t.Errorf("%s: got %v, want allowed=%v", tc.addr, err, tc.ok)
		}
	}
}

// FuzzCanonical checks that a canonical location parses to itself.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"https://Example.com:8443/a/#sha256=" + pinHex, "http://127.0.0.1:1", "http://[::1]/", "https://h/%41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, loc string) {
		c, err := Canonical(loc)
		if err != nil {
			return
		}
		c2, err := Canonical(c)
		if err != nil || c2 != c {
			t.Fatalf("%q → %q → %q, %v", loc, c, c2, err)
		}
	})
}

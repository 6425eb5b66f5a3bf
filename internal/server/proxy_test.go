package server

import (
	"net/http"
	"net/netip"
	"testing"
)

// TestClientAddr checks which address of X-Forwarded-For counts as the
// client's: the rightmost untrusted one, and only for a trusted peer.
func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		peer    string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"198.51.100.7:4000", []string{"203.0.113.1"}, trusted, "198.51.100.7:4000"}, // untrusted peer: header ignored
		{"10.0.0.2:4000", []string{"203.0.113.1"}, nil, "10.0.0.2:4000"},             // no trusted proxies
		{"10.0.0.2:4000", nil, trusted, "10.0.0.2"},                                  // trusted, no header: the proxy itself
		{"10.0.0.2:4000", []string{"203.0.113.1"}, trusted, "203.0.113.1"},
		{"10.0.0.2:4000", []string{"6.6.6.6, 203.0.113.1"}, trusted, "203.0.113.1"},           // a client's own entry is left of the real one
		{"10.0.0.2:4000", []string{"6.6.6.6, 203.0.113.1, 10.1.2.3"}, trusted, "203.0.113.1"}, // through two trusted proxies
		{"10.0.0.2:4000", []string{"6.6.6.6", "203.0.113.1 , 10.1.2.3"}, trusted, "203.0.113.1"},
		{"10.0.0.2:4000", []string{"10.9.9.9, 10.1.2.3"}, trusted, "10.9.9.9"},      // all trusted: the leftmost
		{"10.0.0.2:4000", []string{"6.6.6.6, junk, 10.1.2.3"}, trusted, "10.1.2.3"}, // malformed: the last trusted hop
		{"[fd00::1]:4000", []string{"2001:db8::5"}, trusted, "2001:db8::5"},
		{"[::ffff:10.0.0.2]:4000", []string{"::ffff:203.0.113.1"}, trusted, "203.0.113.1"}, // mapped addresses unmapped
	} {
		r := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientAddr(r, tc.trusted); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %q, want %q", tc.peer, tc.xff, got, tc.want)
		}
	}
}

// TestTrustedProxyRate checks that a trusted proxy's clients are limited
// each by their own address, and that a client cannot escape its limit by
// sending X-Forwarded-For itself.
func TestTrustedProxyRate(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Rate = 1
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	get := func(xff string) int {
		return e.do(req{method: "GET", path: "/log/checkpoint", header: map[string]string{"X-Forwarded-For": xff}}).status
	}
	for range 2 { // the burst of one client
		if st := get("6.6.6.6, 203.0.113.1"); st != 200 {
			t.Fatalf("within the burst: %d", st)
		}
	}
	if st := get("7.7.7.7, 203.0.113.1"); st != http.StatusTooManyRequests {
		t.Errorf("a client forging its address escaped its limit: %d", st)
	}
	if st := get("203.0.113.2"); st != 200 {
		t.Errorf("another client behind the proxy was limited: %d", st)
	}
}

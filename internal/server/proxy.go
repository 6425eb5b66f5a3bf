package server

import (
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds how many X-Forwarded-For addresses are looked
// at, so that a long header costs no more than a short one.
const maxForwardedHops = 16

// clientAddr returns the address a request comes from, for rate limits
// and logs. It is the peer's address, unless the peer is in one of the
// trusted proxies' prefixes: then it is the rightmost address of
// X-Forwarded-For that is not a trusted proxy (or the leftmost if all
// are), so that a client cannot choose its address by sending the header
// itself. A malformed or missing entry ends the walk at the last trusted
// hop's address. Without trusted proxies the header is ignored.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !isTrusted(ap.Addr(), trusted) {
		return r.RemoteAddr
	}
	addr := ap.Addr().Unmap()
	hops := forwardedHops(r.Header.Values("X-Forwarded-For"))
	for i := len(hops) - 1; i >= 0 && len(hops)-i <= maxForwardedHops; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			break
		}
		addr = a.Unmap()
		if !isTrusted(addr, trusted) {
			break
		}
	}
	return addr.String()
}

// forwardedHops splits X-Forwarded-For header lines into their
// comma-separated addresses, in order, trimmed of spaces.
func forwardedHops(lines []string) []string {
	var hops []string
	for _, line := range lines {
		for h := range strings.SplitSeq(line, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	return hops
}

// isTrusted reports whether a is in one of the prefixes.
func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

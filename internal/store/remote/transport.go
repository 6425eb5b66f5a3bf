package remote

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/coffer-backup/coffer/internal/deadline"
)

// endpoint is a parsed store location.
type endpoint struct {
	base string // scheme://host[:port][/prefix], without a trailing slash
	pin  []byte // SHA-256 of the server's leaf certificate, or nil for CA validation
}

func (e endpoint) String() string { return e.base }

// insecure reports whether the endpoint speaks plain HTTP.
func (e endpoint) insecure() bool { return strings.HasPrefix(e.base, "http://") }

// parseLocation parses https://host[:port][/prefix][#sha256=HEX] or
// http://loopback-host[:port][/prefix] (docs/api.md, Transport).
func parseLocation(location string) (endpoint, error) {
	u, err := url.Parse(location)
	if err != nil {
		return endpoint{}, fmt.Errorf("store %q: not a URL: %w", location, err)
	}
	bad := func(why string) (endpoint, error) {
		return endpoint{}, fmt.Errorf("store %q: %s", location, why)
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "https" && scheme != "http":
		return bad("the scheme must be https or http")
	case u.Host == "" || u.Hostname() == "":
		return bad("no host")
	case u.User != nil || u.RawQuery != "" || u.ForceQuery:
		return bad("user names and queries are not allowed")
	case scheme == "http" && !isLoopback(u.Hostname()):
		return bad("plain http:// is allowed only to a loopback host; use https://")
	case scheme == "http" && u.Fragment != "":
		return bad("a certificate pin needs https://")
	}
	ep := endpoint{base: scheme + "://" + strings.ToLower(u.Host) + strings.TrimRight(u.EscapedPath(), "/")}
	if u.Fragment != "" {
		if ep.pin, err = parsePin(u.Fragment); err != nil {
			return bad(err.Error())
		}
	}
	return ep, nil
}

// parsePin parses the fragment "sha256=" followed by 64 hex digits.
func parsePin(fragment string) ([]byte, error) {
	h, ok := strings.CutPrefix(fragment, "sha256=")
	pin, err := hex.DecodeString(h)
	if !ok || err != nil || len(pin) != sha256.Size {
		return nil, errors.New("the fragment must be #sha256= and the 64 hex digits of the certificate's SHA-256")
	}
	return pin, nil
}

// isLoopback reports whether host is "localhost" or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// PinError is returned when a pinned server presents another certificate.
type PinError struct {
	Got string // hex SHA-256 of the certificate the server presented
}

func (e *PinError) Error() string {
	return "the server's certificate does not match the pinned sha256 (it presented sha256=" + e.Got + ")"
}

// newClient returns an HTTP client for the endpoint: pinned or CA-validated
// TLS, a connection pool big enough for parallel uploads, no redirects,
// for http:// a dialer that refuses any address but a loopback one, and
// every exchange bounded by lim (internal/deadline), which also bounds the
// wait for response headers. An HTTP/2 connection silent for lim.Idle is
// pinged and closed if the ping goes unanswered for 15 s, so that a retry
// after a stall does not queue on a dead connection. With http1 it speaks
// only HTTP/1.1 (see bulkBody).
func newClient(ep endpoint, lim deadline.Limits, http1 bool) *http.Client {
	d := &net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}
	if ep.insecure() {
		d.Control = loopbackOnly
	}
	t := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         d.DialContext,
		TLSClientConfig:     tlsConfig(ep.pin),
		ForceAttemptHTTP2:   !http1,
		MaxIdleConns:        128,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 15 * time.Second,
		HTTP2:               &http.HTTP2Config{SendPingTimeout: lim.OrDefaults().Idle},
	}
	if http1 {
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP1(true)
	}
	return &http.Client{
		Transport:     &deadline.Transport{Base: platformTransport(t), Limits: lim},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// bulkBody is the request body size from which a request goes over the
// Store's HTTP/1.1 client rather than its HTTP/2 one: a pack. Over HTTP/2,
// Go sends a body in DATA frames of at most 16 KiB under a 1 MiB
// flow-control window, and the server copies each through its stream's
// pipe; over HTTP/1.1 the body is one stream of bytes on its own
// connection. A first backup of the SCALE=4 corpus (316 MiB) through
// coffer serve with TLS on loopback took 0.2 CPU-s less in the client and
// 0.13 in the server. Large answers (packs read by a restore) go the same
// way (Store.get). Smaller requests keep HTTP/2's single connection.
const bulkBody = 1 << 20

// tlsConfig validates the server by its pin, or by the system's CAs.
func tlsConfig(pin []byte) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if pin == nil {
		return c
	}
	// The pin replaces CA validation (docs/api.md, Transport);
	// VerifyConnection runs on every handshake, resumed ones included.
	c.InsecureSkipVerify = true
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the server presented no certificate")
		}
		sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
		if subtle.ConstantTimeCompare(sum[:], pin) != 1 {
			return &PinError{Got: hex.EncodeToString(sum[:])}
		}
		return nil
	}
	return c
}

// loopbackOnly refuses to connect a plain-HTTP client anywhere but to a
// loopback address, whatever a host name resolved to.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing plain HTTP to %s: not a loopback address", address)
	}
	return nil
}

// Canonical returns location normalised: lower-case scheme and host (the
// port kept as written), the escaped path without trailing slashes, and
// the pin, if any, as "#sha256=" and lower-case hex (docs/format.md §12).
func Canonical(location string) (string, error) {
	ep, err := parseLocation(location)
	if err != nil {
		return "", err
	}
	if ep.pin != nil {
		return ep.base + "#sha256=" + hex.EncodeToString(ep.pin), nil
	}
	return ep.base, nil
}

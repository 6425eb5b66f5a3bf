package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Local serves the web app and its API from the native binary on the
// user's own machine, with the device's own keys (coffer web --listen,
// docs/web.md "Local mode"). Only a request that names the listening
// address as its Host (no DNS rebinding), starts its path with the random
// token (no other local user or web page can guess the URL), and is not
// marked cross-site by the browser reaches the app; signing out, the one
// request that changes anything, is a POST that must also carry the CSRF
// token the page was given, from the app's own origin.
type Local struct {
	Addr    string // host:port listened on, as the browser names it
	Token   string // the path's random first element
	CSRF    string
	API     http.Handler
	SignOut func() // stops the local server
	app     http.Handler
}

// NewLocal returns a Local for addr, a loopback address and port, with a
// fresh token and CSRF token, serving api.
func NewLocal(addr string, api http.Handler, signOut func()) (*Local, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	var err error
	l := &Local{Addr: addr, Token: randomToken(), CSRF: randomToken(), API: api, SignOut: signOut}
	if l.app, err = Handler(Page{Mode: "local", CSRF: l.CSRF}); err != nil {
		return nil, err
	}
	return l, nil
}

// CheckLoopback refuses an address that is not a loopback IP and port:
// local mode serves the device's keys' reads to this machine only.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("local mode listens on a loopback address only (127.0.0.1:PORT or [::1]:PORT), not %q", addr)
	}
	return nil
}

// randomToken returns 256 random bits, URL-safe.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// URL is what the user opens.
func (l *Local) URL() string { return "http://" + l.Addr + "/" + l.Token + "/" }

// Errors Local answers with, as plain text.
var (
	errHost      = errors.New("wrong Host (this server answers only to its own address)")
	errCrossSite = errors.New("cross-site request refused")
	errCSRF      = errors.New("missing or wrong CSRF token")
)

func (l *Local) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	SetHeaders(w.Header())
	rest, ok := l.admit(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if err := l.check(r); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	switch {
	case rest == "api/signout":
		l.signOut(w, r)
	case strings.HasPrefix(rest, "api/"):
		http.StripPrefix("/"+l.Token+"/api/", l.API).ServeHTTP(w, r)
	default:
		http.StripPrefix("/"+l.Token, l.app).ServeHTTP(w, r)
	}
}

// admit returns the path after the token, if the path starts with it.
func (l *Local) admit(r *http.Request) (string, bool) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	tok, rest, _ := strings.Cut(p, "/")
	return rest, subtle.ConstantTimeCompare([]byte(tok), []byte(l.Token)) == 1
}

// check refuses another Host and what the browser says is cross-site.
func (l *Local) check(r *http.Request) error {
	if !strings.EqualFold(r.Host, l.Addr) {
		return errHost
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return errCrossSite
	}
	return nil
}

// signOut stops the local server on a POST from the page.
func (l *Local) signOut(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "sign out with POST", http.StatusMethodNotAllowed)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Coffer-CSRF")), []byte(l.CSRF)) != 1 ||
		r.Header.Get("Origin") != "http://"+l.Addr {
		http.Error(w, errCSRF.Error(), http.StatusForbidden)
		return
	}
	w.WriteHeader(http.StatusNoContent)
	if l.SignOut != nil {
		l.SignOut()
	}
}

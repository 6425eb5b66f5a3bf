package webui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLocalRefuses: what reaches the API in local mode, and what does not.
func TestLocalRefuses(t *testing.T) {
	stopped := 0
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api:"+r.URL.Path) })
	l, err := NewLocal("127.0.0.1:8080", api, func() { stopped++ })
	if err != nil {
		t.Fatal(err)
	}
	base := "/" + l.Token + "/"
	for _, c := range []struct {
		name, method, path, host string
		header                   map[string]string
		status                   int
		body                     string
	}{
		{"api", "GET", base + "api/snapshots", "127.0.0.1:8080", nil, 200, "api:snapshots"},
		{"page", "GET", base, "127.0.0.1:8080", nil, 200, "<!doctype html>"},
		{"no token", "GET", "/api/snapshots", "127.0.0.1:8080", nil, 404, ""},
		{"wrong token", "GET", "/" + l.CSRF + "/api/snapshots", "127.0.0.1:8080", nil, 404, ""},
		{"rebinding host", "GET", base + "api/snapshots", "attacker.example:8080", nil, 403, ""},
		{"cross-site", "GET", base + "api/snapshots", "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, ""},
		{"sign-out by GET", "GET", base + "api/signout", "127.0.0.1:8080", nil, 405, ""},
		{"sign-out without token", "POST", base + "api/signout", "127.0.0.1:8080", map[string]string{"Origin": "http://127.0.0.1:8080"}, 403, ""},
		{"sign-out from elsewhere", "POST", base + "api/signout", "127.0.0.1:8080", map[string]string{"Origin": "http://evil", "X-Coffer-CSRF": l.CSRF}, 403, ""},
		{"sign-out", "POST", base + "api/signout", "127.0.0.1:8080", map[string]string{"Origin": "http://127.0.0.1:8080", "X-Coffer-CSRF": l.CSRF}, 204, ""},
	} {
		r := httptest.NewRequest(c.method, c.path, nil)
		r.Host = c.host
		for k, v := range c.header {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		l.ServeHTTP(w, r)
		if w.Code != c.status || !strings.HasPrefix(w.Body.String(), c.body) {
			t.Errorf("%s: %d %q, want %d %q", c.name, w.Code, w.Body.String(), c.status, c.body)
		}
		if w.Header().Get("Content-Security-Policy") != CSP {
			t.Errorf("%s: no CSP", c.name)
		}
	}
	if stopped != 1 {
		t.Errorf("signed out %d times, want 1", stopped)
	}
	if _, err := NewLocal("0.0.0.0:8080", api, nil); err == nil {
		t.Error("local mode on a non-loopback address")
	}
}

// TestPageIntegrity: the page names every script and style with the
// integrity of the bytes served.
func TestPageIntegrity(t *testing.T) {
	b, err := render(Page{Mode: "server"})
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if strings.Contains(page, "__") {
		t.Errorf("placeholder left in the page")
	}
	for _, name := range []string{"app.js", "style.css"} {
		v, _ := sri(name)
		if !strings.Contains(page, `"`+name+`" integrity="`+v+`"`) {
			t.Errorf("%s without its integrity %s", name, v)
		}
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, " style=") {
		t.Error("inline script or style in the page")
	}
}

package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/server/wire"
)

// TestObjects walks the life of objects: put, refused overwrite, get, head,
// delete, and refusals of malformed uploads that must store nothing.
func TestObjects(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(1)
	walkObjects(t, e, a)
	if tmp, _ := os.ReadDir(filepath.Join(e.s.accountDir(a.id), "tmp")); len(tmp) != 0 {
		t.Errorf("%d temp files left by refused uploads", len(tmp))
	}
}

// walkObjects takes an account through the life of objects (TestObjects).
// It leaves packs/<the 100,000-byte content(1)>, snapshots/<the empty
// object>, config/config and keys/device-abc.
func walkObjects(t *testing.T, e *env, a *account) {
	data, name := content(1, 100_000)
	other, otherName := content(2, 10)
	empty, emptyName := content(0, 0)
	path := "/v1/objects/packs/" + name
	steps := []struct {
		what   string
		q      req
		status int
		code   string
		body   []byte // expected body, if not nil
	}{
		{"get missing", req{method: "GET", path: path}, 404, "not_found", nil},
		{"head missing", req{method: "HEAD", path: path}, 404, "", nil},
		{"delete missing", req{method: "DELETE", path: path}, 404, "not_found", nil},
		{"hash mismatch", req{method: "PUT", path: path, body: other}, 400, "bad_request", nil},
		{"name not a hash", req{method: "PUT", path: "/v1/objects/index/abc", body: other}, 400, "bad_request", nil},
		{"upper-case hash", req{method: "PUT", path: "/v1/objects/index/" + strings.ToUpper(otherName), body: other}, 400, "bad_request", nil},
		{"nothing stored", req{method: "GET", path: path}, 404, "not_found", nil},
		{"put", req{method: "PUT", path: path, body: data}, 201, "", nil},
		{"put again", req{method: "PUT", path: path, body: data}, 409, "exists", nil},
		{"get", req{method: "GET", path: path}, 200, "", data},
		{"head", req{method: "HEAD", path: path}, 200, "", []byte{}},
		{"same name, other kind", req{method: "GET", path: "/v1/objects/index/" + name}, 404, "not_found", nil},
		{"empty object", req{method: "PUT", path: "/v1/objects/snapshots/" + emptyName, body: empty}, 201, "", nil},
		{"get empty", req{method: "GET", path: "/v1/objects/snapshots/" + emptyName}, 200, "", []byte{}},
		{"config: any body", req{method: "PUT", path: "/v1/objects/config/config", body: "{}"}, 201, "", nil},
		{"config: no overwrite", req{method: "PUT", path: "/v1/objects/config/config", body: "{2}"}, 409, "exists", nil},
		{"config kept", req{method: "GET", path: "/v1/objects/config/config"}, 200, "", []byte("{}")},
		{"keys: free name", req{method: "PUT", path: "/v1/objects/keys/device-abc", body: other}, 201, "", nil},
		{"delete", req{method: "DELETE", path: path}, 204, "", nil},
		{"get deleted", req{method: "GET", path: path}, 404, "not_found", nil},
		{"put deleted name again", req{method: "PUT", path: path, body: data}, 201, "", nil},
	}
	for _, st := range steps {
		st.q.token = a.token
		r := e.do(st.q)
		r.want(t, st.what, st.status, st.code)
		if st.body != nil && !bytes.Equal(r.body, st.body) {
			t.Errorf("%s: got %d bytes, want %d", st.what, len(r.body), len(st.body))
		}
		if st.q.method == "HEAD" && r.status == 200 && r.header.Get("Content-Length") != fmt.Sprint(len(data)) {
			t.Errorf("head: Content-Length %q", r.header.Get("Content-Length"))
		}
	}
}

// rawRequest sends head (a request without its body) on a new connection
// and returns the status line of the answer, without sending any body.
func rawRequest(t *testing.T, e *env, head string) string {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(line)
}

// TestEarlyRefusals checks that uploads refused on their headers alone (no
// or too large a length, an existing name, a kind the device may not write)
// are answered before their body is sent.
func TestEarlyRefusals(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(1)
	data, name := content(1, 10)
	e.put(a.token, "index", data, name, 201)
	tests := []struct {
		kind, length, token string
		want                string
	}{
		{"packs", fmt.Sprint(wire.MaxPackSize + 1), a.token, "HTTP/1.1 413 Request Entity Too Large"},
		{"index", fmt.Sprint(wire.MaxObjectSize + 1), a.token, "HTTP/1.1 413 Request Entity Too Large"},
		{"packs", "", a.token, "HTTP/1.1 411 Length Required"},
		{"index", "-1", a.token, "HTTP/1.1 400 Bad Request"}, // net/http refuses it
		{"index", "1000000", a.token, "HTTP/1.1 409 Conflict"},
		{"prune", "1000000", a.aoToken, "HTTP/1.1 403 Forbidden"},
		{"packs", "1000000", "", "HTTP/1.1 401 Unauthorized"},
	}
	for _, tc := range tests {
		for _, expect := range []string{"", "Expect: 100-continue\r\n"} {
			head := fmt.Sprintf("PUT /v1/objects/%s/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n%s", tc.kind, name, tc.token, expect)
			if tc.length != "" {
				head += "Content-Length: " + tc.length + "\r\n"
			} else {
				head += "Transfer-Encoding: chunked\r\n\r\n0\r\n" // a body that ends at once
			}
			if got := rawRequest(t, e, head+"\r\n"); got != tc.want {
				t.Errorf("%s of length %q %s: %q, want %q", tc.kind, tc.length, expect, got, tc.want)
			}
		}
	}
	// The largest pack is accepted as far as limits go (here: refused on
	// its hash once sent, which shows the body was read).
	big := bytes.Repeat([]byte{1}, wire.MaxObjectSize+1)
	e.do(req{method: "PUT", path: "/v1/objects/packs/" + name, token: a.token, body: big}).want(t, "pack over 16 MiB", 400, "bad_request")
	e.do(req{method: "PUT", path: "/v1/objects/index/" + sha(big), token: a.token, body: big}).want(t, "index over 16 MiB", 413, "too_large")
}

// TestRanges checks ranged reads and their refusals.
func TestRanges(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(1)
	data, name := content(3, 1000)
	e.put(a.token, "packs", data, name, 201)
	tests := []struct {
		rng          string
		status       int
		from, to     int // expected body: data[from:to]
		contentRange string
	}{
		{"", 200, 0, 1000, ""},
		{"bytes=0-999", 206, 0, 1000, "bytes 0-999/1000"},
		{"bytes=0-0", 206, 0, 1, "bytes 0-0/1000"},
		{"bytes=10-19", 206, 10, 20, "bytes 10-19/1000"},
		{"bytes=999-", 206, 999, 1000, "bytes 999-999/1000"},
		{"bytes=500-", 206, 500, 1000, "bytes 500-999/1000"},
		{"bytes=1000-", 416, 0, 0, "bytes */1000"},
		{"bytes=0-1000", 416, 0, 0, "bytes */1000"},
		{"bytes=990-1010", 416, 0, 0, "bytes */1000"},
		{"bytes=20-10", 400, 0, 0, ""},
		{"bytes=-10", 400, 0, 0, ""},
		{"bytes=1-2,3-4", 400, 0, 0, ""},
		{"bytes=+1-2", 400, 0, 0, ""},
		{"bytes= 1-2", 400, 0, 0, ""},
		{"items=1-2", 400, 0, 0, ""},
		{"bytes=99999999999999999999-", 400, 0, 0, ""},
		{"bytes=", 400, 0, 0, ""},
	}
	for _, tc := range tests {
		r := e.do(req{method: "GET", path: "/v1/objects/packs/" + name, token: a.token, header: map[string]string{"Range": tc.rng}})
		r.want(t, tc.rng, tc.status, "")
		if tc.status < 300 && !bytes.Equal(r.body, data[tc.from:tc.to]) {
			t.Errorf("%s: wrong body of %d bytes", tc.rng, len(r.body))
		}
		if got := r.header.Get("Content-Range"); got != tc.contentRange {
			t.Errorf("%s: Content-Range %q, want %q", tc.rng, got, tc.contentRange)
		}
	}
	_, emptyName := content(0, 0)
	e.put(a.token, "index", nil, emptyName, 201)
	e.do(req{method: "GET", path: "/v1/objects/index/" + emptyName, token: a.token, header: map[string]string{"Range": "bytes=0-"}}).
		want(t, "range of an empty object", 416, "bad_range")
}

// TestList checks listing order, pagination and its parameters.
func TestList(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AnyNames = true })
	a := e.newAccount(1)
	var names []string
	for i := range 25 {
		name := fmt.Sprintf("n%02d", (i*7)%25) // stored out of order
		e.put(a.token, "index", []byte(name), name, 201)
		names = append(names, fmt.Sprintf("n%02d", i))
	}
	e.put(a.token, "snapshots", []byte("x"), "n99", 201)
	list := func(query string) resp {
		return e.do(req{method: "GET", path: "/v1/objects/index/" + query, token: a.token})
	}
	tests := []struct {
		query string
		want  []string
		next  string
	}{
		{"", names, ""},
		{"?limit=10", names[:10], "n09"},
		{"?limit=10&after=n09", names[10:20], "n19"},
		{"?limit=10&after=n19", names[20:], ""},
		{"?after=n24", nil, ""},
		{"?after=a", names, ""},
		{"?limit=25", names, ""},
		{"?limit=24", names[:24], "n23"},
		{"?limit=5000", names, ""},
		{"?limit=1&after=n00", names[1:2], "n01"},
	}
	for _, tc := range tests {
		r := list(tc.query)
		r.want(t, tc.query, 200, "")
		got := decode[wire.ListResponse](t, r)
		var gotNames []string
		for _, o := range got.Objects {
			gotNames = append(gotNames, o.Name)
			if o.Size != 3 {
				t.Errorf("%s: %s has size %d", tc.query, o.Name, o.Size)
			}
		}
		if fmt.Sprint(gotNames) != fmt.Sprint(tc.want) || got.Next != tc.next || got.Objects == nil {
			t.Errorf("%s: %v next %q, want %v next %q", tc.query, gotNames, got.Next, tc.want, tc.next)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=-1", "?limit=x", "?limit=1e3", "?after=..", "?after=A", "?after=%zz"} {
		list(q).want(t, q, 400, "bad_request")
	}
	if got := decode[wire.ListResponse](t, e.do(req{method: "GET", path: "/v1/objects/snapshots", token: a.token})); len(got.Objects) != 1 {
		t.Errorf("listing without the trailing slash: %+v", got)
	}
}

// TestAnyNames checks that content names are enforced unless AnyNames.
func TestAnyNames(t *testing.T) {
	for _, anyNames := range []bool{false, true} {
		e := newEnv(t, func(c *Config) { c.AnyNames = anyNames })
		a := e.newAccount(1)
		want := map[bool]int{false: 400, true: 201}[anyNames]
		for _, kind := range []string{"packs", "index", "snapshots", "sessions", "prune"} {
			e.put(a.token, kind, []byte("x"), "doomed", want)
		}
	}
}

// TestQuota checks that an account cannot store more than its quota, that
// deleting frees space, and that refused uploads reserve nothing.
func TestQuota(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Quota = 1000 })
	a, b := e.newAccount(1), e.newAccount(2)
	d600, n600 := content(1, 600)
	d500, n500 := content(2, 500)
	d400, n400 := content(3, 400)
	e.put(a.token, "packs", d600, n600, 201)
	r := e.do(req{method: "PUT", path: "/v1/objects/packs/" + n500, token: a.token, body: d500})
	r.want(t, "over quota", 413, "quota")
	e.put(b.token, "packs", d500, n500, 201) // quotas are per account
	e.put(a.token, "packs", d600[:400], n400, 400)
	e.put(a.token, "packs", d400, n400, 201) // exactly 1000
	e.do(req{method: "DELETE", path: "/v1/objects/packs/" + n600, token: a.token}).want(t, "delete", 204, "")
	e.put(a.token, "packs", d500, n500, 201)
	u, err := e.s.db.Usage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if u[a.id].Bytes != 900 || u[a.id].Objects != 2 || u[b.id].Bytes != 500 {
		t.Errorf("usage %+v", u)
	}
}

// TestRefs covers compare-and-swap references.
func TestRefs(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(1)
	put := func(name string, body any, tok string) resp {
		return e.do(req{method: "PUT", path: "/v1/refs/" + name, token: tok, body: body})
	}
	e.do(req{method: "GET", path: "/v1/refs/head", token: a.token}).want(t, "get unset", 404, "not_found")
	steps := []struct {
		what   string
		body   any
		status int
		code   string
		ver    int64 // the version answered, -1 for none
	}{
		{"create with version 1", wire.Ref{Value: []byte("a"), Version: 1}, 409, "conflict", 0},
		{"create", wire.Ref{Value: []byte("a"), Version: 0}, 200, "", 1},
		{"create again", wire.Ref{Value: []byte("b"), Version: 0}, 409, "conflict", 1},
		{"update", wire.Ref{Value: []byte("b"), Version: 1}, 200, "", 2},
		{"stale update", wire.Ref{Value: []byte("c"), Version: 1}, 409, "conflict", 2},
		{"negative version", wire.Ref{Value: []byte("c"), Version: -1}, 400, "bad_request", -1},
		{"too large", wire.Ref{Value: make([]byte, wire.MaxRefSize+1), Version: 2}, 413, "too_large", -1},
		{"not JSON", "value", 400, "bad_request", -1},
		{"largest", wire.Ref{Value: make([]byte, wire.MaxRefSize), Version: 2}, 200, "", 3},
		{"empty value", `{"version":3}`, 200, "", 4},
	}
	for _, st := range steps {
		r := put("head", st.body, a.token)
		r.want(t, st.what, st.status, st.code)
		var got wire.Error
		if st.status == 200 {
			v := decode[wire.RefVersion](t, r).Version
			got.Version = &v
		} else {
			got = decode[wire.Error](t, r)
		}
		if st.ver >= 0 && (got.Version == nil || *got.Version != st.ver) || st.ver < 0 && got.Version != nil {
			t.Errorf("%s: version %v, want %d", st.what, got.Version, st.ver)
		}
	}
	got := decode[wire.Ref](t, e.do(req{method: "GET", path: "/v1/refs/head", token: a.token}))
	if got.Version != 4 || len(got.Value) != 0 {
		t.Errorf("ref is %+v", got)
	}
	// admin. refs need a full device; others do not.
	put("admin.policy", wire.Ref{Value: []byte("x")}, a.aoToken).want(t, "append-only sets admin ref", 403, "forbidden")
	put("admin.policy", wire.Ref{Value: []byte("x")}, a.token).want(t, "full sets admin ref", 200, "")
	put("other", wire.Ref{Value: []byte("x")}, a.aoToken).want(t, "append-only sets ref", 200, "")
	e.do(req{method: "GET", path: "/v1/refs/admin.policy", token: a.aoToken}).want(t, "append-only reads admin ref", 200, "")
}

// TestRefLimit checks that an account cannot create refs without bound.
func TestRefLimit(t *testing.T) {
	e := newServer(t)
	e.s.maxRefs = 3
	hs := httptest.NewServer(e.s.Handler())
	defer hs.Close()
	e.url = hs.URL
	a := e.newAccount(1)
	for i := range 3 {
		e.do(req{method: "PUT", path: fmt.Sprint("/v1/refs/r", i), token: a.token, body: wire.Ref{}}).want(t, "ref under the limit", 200, "")
	}
	e.do(req{method: "PUT", path: "/v1/refs/one-more", token: a.token, body: wire.Ref{}}).want(t, "ref over the limit", 413, "quota")
	e.do(req{method: "PUT", path: "/v1/refs/r0", token: a.token, body: wire.Ref{Version: 1}}).want(t, "update at the limit", 200, "")
}

// TestHealthAndMetrics checks the operations endpoints.
func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(1)
	d, n := content(1, 1234)
	e.put(a.token, "packs", d, n, 201)
	r := e.do(req{method: "GET", path: "/healthz"})
	if r.status != 200 || string(r.body) != "ok\n" {
		t.Errorf("healthz: %d %q", r.status, r.body)
	}
	r = e.do(req{method: "GET", path: "/metrics"})
	for _, want := range []string{
		`coffer_objects{account="` + a.id + `"} 1`,
		`coffer_stored_bytes{account="` + a.id + `"} 1234`,
		`coffer_requests_total{route="object_put",code="201"} 1`,
		`coffer_requests_total{route="register",code="201"} 1`,
		`coffer_request_duration_seconds_bucket{route="token",le="+Inf"} 2`,
		"coffer_bytes_received_total ",
		`coffer_errors_total`,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("metrics Content-Type %q", ct)
	}
	// An unreachable accounts directory makes the server unhealthy.
	accounts := filepath.Dir(e.s.accountDir(a.id))
	if err := os.Rename(accounts, accounts+".moved"); err != nil {
		t.Fatal(err)
	}
	e.do(req{method: "GET", path: "/healthz"}).want(t, "healthz without accounts", 503, "unavailable")
}

// TestBodyErrors checks JSON body limits on every JSON endpoint.
func TestBodyErrors(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(1)
	huge := `{"value":"` + strings.Repeat("A", 200<<10) + `"}`
	for _, q := range []req{
		{method: "POST", path: "/v1/accounts", body: huge},
		{method: "POST", path: "/v1/auth/challenge", body: huge},
		{method: "POST", path: "/v1/auth/token", body: huge},
		{method: "POST", path: "/v1/chain", body: huge, token: a.token},
		{method: "POST", path: "/v1/pairings", body: huge, token: a.token},
		{method: "PUT", path: "/v1/refs/x", body: huge, token: a.token},
	} {
		e.do(q).want(t, q.path, http.StatusRequestEntityTooLarge, "too_large")
	}
}

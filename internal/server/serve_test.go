package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/metrics"
	"github.com/coffer-backup/coffer/internal/server/wire"
)

// listen returns a new loopback listener.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serve runs s.Serve on ln until ctx is done, and returns the channel
// Serve's result arrives on.
func serve(s *Server, ctx context.Context, ln net.Listener) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	return done
}

// watchedListener tells a test what a server does with its listener: how
// many bytes the server has read from the connections it accepted, and
// when it closed the listener.
type watchedListener struct {
	net.Listener
	closed    chan struct{} // closed once the listener is
	closeOnce sync.Once

	mu      sync.Mutex
	read    int64         // bytes read from accepted connections
	target  int64         // the count at which reached is closed
	reached chan struct{} // nil if nobody waits
}

func watch(ln net.Listener) *watchedListener {
	return &watchedListener{Listener: ln, closed: make(chan struct{})}
}

func (l *watchedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &watchedConn{Conn: c, l: l}, nil
}

func (l *watchedListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.closed) })
	return err
}

// afterReading returns a channel that is closed once the server has read n
// more bytes from its connections.
func (l *watchedListener) afterReading(n int64) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.target, l.reached = l.read+n, make(chan struct{})
	return l.reached
}

func (l *watchedListener) count(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.read += int64(n)
	if l.reached != nil && l.read >= l.target {
		close(l.reached)
		l.reached = nil
	}
}

// watchedConn counts what the server reads from it.
type watchedConn struct {
	net.Conn
	l *watchedListener
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.l.count(n)
	return n, err
}

// await waits for ch to be closed, failing the test if that takes longer
// than any machine should need.
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// pinnedClient accepts exactly the certificate whose DER hashes to pin, as
// the client of docs/api.md does.
func pinnedClient(pin string) *http.Client {
	cfg := &tls.Config{
		InsecureSkipVerify: true, // replaced by the pin check below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if wire.Pin(cs.PeerCertificates[0].Raw) != pin {
				return errors.New("certificate does not match the pin")
			}
			return nil
		},
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
}

// TestTLS checks the self-signed certificate: made once, pinned, served
// over TLS 1.3 and HTTP/2, with the names the API promises.
func TestTLS(t *testing.T) {
	data := t.TempDir()
	s, err := New(Config{Data: data, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln := listen(t)
	serve(s, ctx, ln)
	addr := ln.Addr()
	url := s.URL(addr)
	base, pin, ok := strings.Cut(url, "#sha256=")
	if !ok || base != "https://"+addr.String() || len(pin) != 64 {
		t.Fatalf("URL %q", url)
	}
	res, err := pinnedClient(pin).Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.ProtoMajor != 2 || res.TLS.Version != tls.VersionTLS13 {
		t.Errorf("healthz over TLS: %d %s TLS %x", res.StatusCode, res.Proto, res.TLS.Version)
	}
	cert := res.TLS.PeerCertificates[0]
	if cert.PublicKeyAlgorithm != x509.ECDSA || cert.VerifyHostname("localhost") != nil ||
		cert.VerifyHostname("127.0.0.1") != nil || cert.VerifyHostname("::1") != nil {
		t.Errorf("certificate: %v, names %v %v", cert.PublicKeyAlgorithm, cert.DNSNames, cert.IPAddresses)
	}
	if _, err := pinnedClient(strings.Repeat("0", 64)).Get(base + "/healthz"); err == nil {
		t.Error("a wrong pin was accepted")
	}
	if fi, err := os.Stat(filepath.Join(data, "tls", keyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", fi.Mode(), err)
	}
	// The certificate is made once.
	s2, err := New(Config{Data: data, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if s2.pin != pin {
		t.Error("a second start made a new certificate")
	}
	// A given certificate is served as it is, and the URL has no pin.
	s3, err := New(Config{Data: t.TempDir(), Log: io.Discard,
		TLSCert: filepath.Join(data, "tls", certFile), TLSKey: filepath.Join(data, "tls", keyFile)})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if got := s3.URL(addr); got != "https://"+addr.String() {
		t.Errorf("URL with a given certificate: %q", got)
	}
}

// TestConfigErrors checks the refusals of New and Serve.
func TestConfigErrors(t *testing.T) {
	data := t.TempDir()
	for _, cfg := range []Config{
		{},
		{Data: data, InsecureHTTP: true, TLSCert: "c", TLSKey: "k"},
		{Data: data, TLSCert: "c"},
		{Data: data, TLSCert: "missing.pem", TLSKey: "missing.pem"},
		{Data: data, Quota: -1},
		{Data: data, Rate: -1},
	} {
		if s, err := New(cfg); err == nil {
			s.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	e := newServer(t)
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := e.s.Serve(context.Background(), ln); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("plain HTTP on a non-loopback address: %v", err)
	}
	err = Run(context.Background(), Config{Data: data, InsecureHTTP: true, Listen: "0.0.0.0:0", Log: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("Run with plain HTTP on a non-loopback address: %v", err)
	}
}

// TestGracefulShutdown starts an upload, stops the server halfway through
// it, and checks that new connections are refused while the upload
// completes and is stored before Serve returns.
func TestGracefulShutdown(t *testing.T) {
	e := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	ln := watch(listen(t))
	done := serve(e.s, ctx, ln)
	e.url = "http://" + ln.Addr().String()
	a := e.newAccount(1)
	data, name := content(1, 4<<20)
	half := len(data) / 2
	pr, pw := io.Pipe()
	r, err := http.NewRequest("PUT", e.url+"/v1/objects/packs/"+name, pr)
	if err != nil {
		t.Fatal(err)
	}
	r.ContentLength = int64(len(data))
	r.Header.Set("Authorization", "Bearer "+a.token)
	// The request is in flight once its handler runs. A request the client
	// has sent is not yet: it may still wait unread on a keep-alive
	// connection, which Shutdown closes as idle. Only the handler reads
	// body bytes, and the server reads at most a buffer's worth with the
	// headers, so once it has read half the object, the handler runs.
	inFlight := ln.afterReading(int64(half))
	result := make(chan int, 1)
	go func() {
		res, err := e.client.Do(r)
		if err != nil {
			t.Error(err)
			result <- 0
			return
		}
		res.Body.Close()
		result <- res.StatusCode
	}()
	if _, err := pw.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	await(t, inFlight, "the server to read the first half of the upload")
	cancel()
	await(t, ln.closed, "the server to close its listener")
	if conn, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		conn.Close()
		t.Fatal("the server still accepts connections")
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned with an upload in flight: %v", err)
	default:
	}
	if _, err := pw.Write(data[half:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	// Serve has returned, so the upload must be stored by now.
	st, err := e.s.store(a.id)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := st.Stat(context.Background(), "packs", name); err != nil || info.Size != int64(len(data)) {
		t.Errorf("the upload was not stored when Serve returned: %v %v", info, err)
	}
	if status := <-result; status != 201 {
		t.Errorf("upload in flight during shutdown: %d", status)
	}
}

// TestRateLimit checks the limits per client address and per account.
func TestRateLimit(t *testing.T) {
	const rate = 50 // bursts of 100
	e := newEnv(t, func(c *Config) { c.Rate = rate })
	a := e.newAccount(1) // from 127.0.0.1
	start := time.Now()
	// hammer sends requests from c until one is refused, and returns how
	// many went through.
	hammer := func(c *env, tok string) int {
		for n := 0; n < 1000; n++ {
			r := c.do(req{method: "GET", path: "/v1/objects/packs/", token: tok})
			if r.status == 429 {
				if r.header.Get("Retry-After") != "1" || r.code() != "rate_limited" {
					t.Errorf("429 with Retry-After %q, code %q", r.header.Get("Retry-After"), r.code())
				}
				return n
			}
		}
		t.Fatal("no request was refused")
		return 0
	}
	slack := func() int { return int(time.Since(start).Seconds()*rate) + 1 }
	if n := hammer(e.from("127.0.0.2"), ""); n < 2*rate || n > 2*rate+slack() {
		t.Errorf("one address made %d requests, want a burst of %d", n, 2*rate)
	}
	e.from("127.0.0.2").do(req{method: "GET", path: "/healthz"}).want(t, "healthz is not limited", 200, "")
	e.from("127.0.0.3").do(req{method: "GET", path: "/v1/objects/packs/"}).want(t, "another address", 401, "")
	// One account from many addresses: its own bucket empties first.
	total := 0
	for i := 4; i < 10; i++ {
		n := hammer(e.from(fmt.Sprintf("127.0.0.%d", i)), a.token)
		total += n
		if n < 2*rate {
			break
		}
	}
	if total > 2*rate+slack() {
		t.Errorf("one account made %d requests, want at most a burst of %d", total, 2*rate)
	}
}

func TestLimiter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := newLimiter(2, 4) // 2 per second, bursts of 4
	steps := []struct {
		key  string
		at   time.Duration
		wait time.Duration
	}{
		{"a", 0, 0}, {"a", 0, 0}, {"a", 0, 0}, {"a", 0, 0},
		{"a", 0, 500 * time.Millisecond},
		{"b", 0, 0}, // its own bucket
		{"a", 250 * time.Millisecond, 250 * time.Millisecond},
		{"a", 500 * time.Millisecond, 0},
		{"a", 500 * time.Millisecond, 500 * time.Millisecond},
		{"a", 10 * time.Second, 0}, // refilled, up to the burst
		{"a", 10 * time.Second, 0}, {"a", 10 * time.Second, 0}, {"a", 10 * time.Second, 0},
		{"a", 10 * time.Second, 500 * time.Millisecond},
		{"a", 9 * time.Second, 500 * time.Millisecond}, // a clock going back refills nothing
	}
	for i, st := range steps {
		if got := l.take(st.key, t0.Add(st.at)); got != st.wait {
			t.Errorf("step %d: wait %v, want %v", i, got, st.wait)
		}
	}
	if newLimiter(0, 10).take("a", t0) != 0 {
		t.Error("no limit refused a request")
	}
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{{time.Nanosecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}} {
		if got := retrySeconds(tc.d); got != tc.want {
			t.Errorf("retrySeconds(%v) = %d", tc.d, got)
		}
	}
}

// TestLimiterBounded checks that the buckets of many addresses do not grow
// without bound.
func TestLimiterBounded(t *testing.T) {
	l := newLimiter(1, 2)
	t0 := time.Unix(1000, 0)
	for i := range maxBuckets + 10 {
		l.take(fmt.Sprint(i), t0)
	}
	if len(l.buckets) > maxBuckets {
		t.Errorf("%d buckets", len(l.buckets))
	}
	// Once the old buckets are full again, they are dropped, not everything.
	l.take("fresh", t0.Add(time.Hour))
	l.take("x", t0.Add(time.Hour))
	if len(l.buckets) > 20 {
		t.Errorf("%d buckets after the idle ones refilled", len(l.buckets))
	}
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.1:443", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:443", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:1", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:1", "fe80::/64"},
		{"pipe", "pipe"},
	} {
		if got := clientKey(tc.addr); got != tc.want {
			t.Errorf("clientKey(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// TestLogs checks that every request is logged as one JSON line with its
// account and device, and that no token, challenge, signature or body ever
// reaches the log.
func TestLogs(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(1)
	d := newDevice(9)
	g := genesis(t, accountID(2), d, recoveryKey(t))
	e.do(req{method: "POST", path: "/v1/accounts", body: wire.RegisterRequest{Account: accountID(2), Genesis: g}})
	ch := e.challenge(accountID(2), d)
	tr := tokenRequest(accountID(2), d, ch)
	tok := decode[wire.TokenResponse](t, e.do(req{method: "POST", path: "/v1/auth/token", body: tr})).Token
	e.do(req{method: "POST", path: "/v1/auth/token", body: tr}) // replayed: logged as an error
	body := []byte("BODY-MARKER-do-not-log")
	e.put(tok, "config", body, "config", 201)
	e.put(tok, "packs", body, "0000000000000000000000000000000000000000000000000000000000000000", 400)
	e.do(req{method: "PUT", path: "/v1/refs/head", token: tok, body: wire.Ref{Value: body}})
	e.do(req{method: "PUT", path: "/v1/refs/head", token: tok, body: `{"value": "` + string(body) + `"}`})
	e.do(req{method: "POST", path: "/v1/auth/challenge", body: `{"account": "` + string(body) + `"`})

	log := e.log.String()
	for what, secret := range map[string]string{
		"token": tok, "other token": a.token, "challenge": b64(ch), "challenge (raw)": string(ch),
		"auth signature": b64(tr.Signature), "genesis": b64(g),
		"body": string(body), "body (base64)": b64(body),
	} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds the %s", what)
		}
	}
	lines := strings.Split(strings.TrimSpace(log), "\n")
	var last map[string]any
	for _, l := range lines {
		last = nil
		if err := json.Unmarshal([]byte(l), &last); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
	}
	var put map[string]any
	for _, l := range lines {
		if strings.Contains(l, `"route":"object_put"`) {
			_ = json.Unmarshal([]byte(l), &put) // checked above
			break
		}
	}
	if put["account"] != accountID(2) || put["device"] != d.id || put["status"] != 201.0 || put["received"] != float64(len(body)) ||
		put["target"] != "config/config" || put["method"] != "PUT" || put["duration_ms"] == nil {
		t.Errorf("log line of a put: %v", put)
	}
	if last["status"] != 400.0 || last["code"] != "bad_request" {
		t.Errorf("log line of a refused request: %v", last)
	}
}

// panicDB panics on every call, standing in for a bug.
type panicDB struct{ meta.DB }

// TestPanic checks that a panic in a handler is answered with a 500 and
// logged, and does not take the server down.
func TestPanic(t *testing.T) {
	var log bytes.Buffer
	s := &Server{cfg: Config{Now: time.Now}, db: panicDB{}, log: slog.New(slog.NewJSONHandler(&log, nil)), metrics: metrics.New()}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/v1/devices", nil)
	r.Header.Set("Authorization", "Bearer "+strings.Repeat("A", 43))
	s.Handler().ServeHTTP(w, r)
	var body wire.Error
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 500 || body.Code != "internal" {
		t.Errorf("answer to a panic: %d %s", w.Code, w.Body)
	}
	if !strings.Contains(log.String(), "panic: runtime error") || !strings.Contains(log.String(), `"level":"ERROR"`) {
		t.Errorf("the panic was not logged: %s", log.String())
	}
}

// TestDefaultLimitsFitBackups plays, on the limiter's clock, what one
// user's client does against the default limits: unchanged re-backups of
// the benchmark corpus back to back (about 1 800 requests each, one per
// directory tree, at 5 000 a second, faster than a client that waits for
// each answer gets them), a restore, and a re-backup of a tree of 90 000
// directories. None may wait. An abusive client, 20 000 requests a second
// for a minute, is held to the budget and the sustained rate.
func TestDefaultLimitsFitBackups(t *testing.T) {
	l := newLimiter(DefaultRate, DefaultBudget)
	now := time.Unix(1000, 0)
	// run makes n requests of key at perSecond, returning how many went
	// through and advancing the clock.
	run := func(key string, n int, perSecond float64) int {
		ok := 0
		for range n {
			if l.take(key, now) == 0 {
				ok++
			}
			now = now.Add(time.Duration(float64(time.Second) / perSecond))
		}
		return ok
	}
	for i := range 20 {
		if ok := run("user", 1800, 5000); ok != 1800 {
			t.Fatalf("re-backup %d: %d of 1800 requests went through", i+1, ok)
		}
	}
	if ok := run("user", 3000, 5000); ok != 3000 {
		t.Fatalf("restore after the re-backups: %d of 3000 requests went through", ok)
	}
	if ok := run("big", 90_000, 5000); ok != 90_000 {
		t.Errorf("re-backup of 90 000 directories: %d went through", ok)
	}
	const seconds, abusive = 60, 20_000
	ok := run("abuser", seconds*abusive, abusive)
	if most := DefaultBudget + seconds*DefaultRate + 1; ok > most || ok < most-DefaultRate {
		t.Errorf("an abusive client made %d requests in a minute, want the budget and the rate, %d", ok, most)
	}
}

// TestBudget checks that Config.Budget, not twice the rate, sets how many
// requests an account may make at once.
func TestBudget(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Rate, c.Budget = 1, 300 })
	a := e.newAccount(1)
	c := e.from("127.0.0.2")
	n := 0
	for ; n < 400; n++ {
		if c.do(req{method: "GET", path: "/v1/objects/packs/", token: a.token}).status == 429 {
			break
		}
	}
	if n < 290 || n > 310 { // registering the account spent a few
		t.Errorf("%d requests went through before a 429, want the budget of 300", n)
	}
}

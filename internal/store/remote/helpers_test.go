package remote

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/server"
)

// fastPolicy retries as the default policy does, only sooner, so that
// tests do not wait.
var fastPolicy = policy{attempts: 5, base: time.Millisecond, max: 20 * time.Millisecond, maxRetryAfter: 300 * time.Millisecond}

// clock is a settable clock shared by a test server and its clients.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// fault says how faults spoils requests.
type fault struct {
	match      string // spoil requests whose "METHOD /path" starts with this
	n          int    // how many of them
	status     int    // the answer; 0 drops the connection instead
	retryAfter string // Retry-After of the answer
	swallow    bool   // let the server carry the request out first
	// hostile, if set, answers instead: an attacker's behaviour
	// (hostile_test.go).
	hostile http.HandlerFunc
}

// faults stands in front of the real server and spoils requests as a
// flaky network or an overloaded proxy would. It also counts what passes.
type faults struct {
	next http.Handler

	mu       sync.Mutex
	f        fault
	spoiled  int
	logins   int             // POST /v1/auth/token requests
	statuses map[int]int     // answers by status
	bearers  map[string]bool // Authorization headers seen
}

func (fs *faults) set(f fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.f, fs.spoiled = f, 0
}

// counts returns how many requests were spoiled, how many logins were
// made and how many answers had the given status.
func (fs *faults) counts(status int) (spoiled, logins, withStatus int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.spoiled, fs.logins, fs.statuses[status]
}

// secrets returns every bearer token seen.
func (fs *faults) secrets() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []string
	for b := range fs.bearers {
		out = append(out, strings.TrimPrefix(b, "Bearer "))
	}
	return out
}

// statusWriter records the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (fs *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	if r.URL.Path == "/v1/auth/token" {
		fs.logins++
	}
	if a := r.Header.Get("Authorization"); a != "" {
		fs.bearers[a] = true
	}
	f := fs.f
	spoil := f.n > 0 && strings.HasPrefix(r.Method+" "+r.URL.Path, f.match)
	if spoil {
		fs.f.n--
		fs.spoiled++
	}
	fs.mu.Unlock()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		fs.mu.Lock()
		fs.statuses[sw.status]++
		fs.mu.Unlock()
	}()
	if !spoil {
		fs.next.ServeHTTP(sw, r)
		return
	}
	if f.hostile != nil {
		f.hostile(w, r)
		return
	}
	if f.swallow {
		fs.next.ServeHTTP(httptest.NewRecorder(), r)
	} else {
		io.Copy(io.Discard, r.Body)
	}
	if f.status == 0 {
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	if f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	sw.WriteHeader(f.status)
	fmt.Fprintf(w, `{"error":"injected fault %d","code":"injected"}`, f.status)
}

// testServer is a real server, behind faults, on a loopback address.
type testServer struct {
	URL    string
	clock  *clock
	faults *faults
}

// newTestServer starts a server; edit adjusts its configuration.
func newTestServer(t testing.TB, edit func(*server.Config)) *testServer {
	t.Helper()
	clk := &clock{}
	cfg := server.Config{Data: t.TempDir(), InsecureHTTP: true, Log: io.Discard, Now: clk.now}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fs := &faults{next: srv.Handler(), statuses: map[int]int{}, bearers: map[string]bool{}}
	hs := httptest.NewServer(fs)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return &testServer{URL: hs.URL, clock: clk, faults: fs}
}

// newDevice makes a device identity.
func newDevice(t testing.TB) *keys.Device {
	t.Helper()
	d, err := keys.NewDevice("test device")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// newAccountID draws an account ID.
func newAccountID(t testing.TB) string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// open returns a store of the server for account and dev, on the server's
// clock, retrying with fastPolicy.
func (ts *testServer) open(t testing.TB, url, account string, dev *keys.Device) *Store {
	t.Helper()
	s, err := Open(url, Options{Account: account, Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	s.now, s.policy = ts.clock.now, fastPolicy
	t.Cleanup(func() { s.Close() })
	return s
}

// owner is a registered account: its first device's store, its recovery
// key and its chain as the test built it.
type owner struct {
	*Store
	recovery *keys.RecoveryKey
	chain    *devices.Chain
}

// genesis returns the genesis entry of account with first device dev and a
// new recovery key, and that key.
func genesis(t testing.TB, account string, dev *keys.Device) ([]byte, *keys.RecoveryKey) {
	t.Helper()
	rk, err := keys.NewRecoveryKey()
	if err != nil {
		t.Fatal(err)
	}
	g, err := devices.NewGenesis(account, dev, rk, [32]byte{0xc0}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return g, rk
}

// newOwner registers a new account with a new device.
func (ts *testServer) newOwner(t testing.TB) *owner {
	t.Helper()
	s := ts.open(t, ts.URL, newAccountID(t), newDevice(t))
	g, rk := genesis(t, s.opts.Account, s.opts.Device)
	if err := s.RegisterAccount(context.Background(), s.opts.Account, g); err != nil {
		t.Fatal(err)
	}
	c, err := devices.Verify(s.opts.Account, [][]byte{g})
	if err != nil {
		t.Fatal(err)
	}
	return &owner{Store: s, recovery: rk, chain: c}
}

// account registers a new account with a new device and returns its store.
func (ts *testServer) account(t testing.TB) *Store { return ts.newOwner(t).Store }

// add appends entry to the owner's chain through s and extends the
// owner's view of it.
func (o *owner) add(t testing.TB, s *Store, entry []byte) {
	t.Helper()
	err := s.AppendChain(context.Background(), o.chain.Len(), entry)
	if err != nil {
		t.Fatal(err)
	}
	if o.chain, err = o.chain.Extend([][]byte{entry}); err != nil {
		t.Fatal(err)
	}
}

// addDevice builds the entry by which the owner's device adds dev.
func (o *owner) addDevice(t testing.TB, dev *keys.Device) []byte {
	return o.addDeviceWith(t, dev, devices.Full)
}

// addDeviceWith builds the entry adding dev with rights r.
func (o *owner) addDeviceWith(t testing.TB, dev *keys.Device, r devices.Rights) []byte {
	t.Helper()
	b, err := o.chain.AddDeviceWith(devices.ByDevice(o.opts.Device), dev.Public(), r, func(m []byte) []byte { return ed25519.Sign(dev.Sign, m) }, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

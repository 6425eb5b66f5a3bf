package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/server"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/storetest"
)

// TestConformance runs the store conformance suite through a real server,
// each test in a fresh account. The server accepts any object name here,
// as the suite names objects freely.
func TestConformance(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.AnyNames = true })
	storetest.Run(t, func(t *testing.T) store.Store { return ts.account(t) })
}

// TestChainConformance runs the store.Chain suite through a real server,
// each test in an account registered by the suite's genesis.
func TestChainConformance(t *testing.T) {
	ts := newTestServer(t, nil)
	storetest.RunChain(t, func(t *testing.T, a storetest.ChainAccount) store.Chain {
		s, err := Create(context.Background(), ts.URL, Options{Account: a.ID, Device: a.Device, Genesis: a.Genesis})
		if err != nil {
			t.Fatal(err)
		}
		s.policy = fastPolicy
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func hexSum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestContentAddressed checks that the server's refusal of a body that
// does not hash to its name comes back as a clear error naming the object,
// and is not retried.
func TestContentAddressed(t *testing.T) {
	ts := newTestServer(t, nil)
	s := ts.account(t)
	ctx := context.Background()
	data := []byte("sealed bytes")
	if err := s.Put(ctx, store.Packs, hexSum(data), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put under its hash: %v", err)
	}
	wrong := hexSum([]byte("other bytes"))
	err := s.Put(ctx, store.Packs, wrong, bytes.NewReader(data), int64(len(data)))
	var se *Error
	if !errors.As(err, &se) || se.Status != http.StatusBadRequest || !strings.Contains(err.Error(), wrong) {
		t.Errorf("Put under another hash: got %v", err)
	}
	if _, _, n := ts.faults.counts(http.StatusBadRequest); n != 1 {
		t.Errorf("the refused Put was sent %d times", n)
	}
	if _, err := s.Stat(ctx, store.Packs, wrong); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stat of the refused object: %v", err)
	}
}

// TestPinnedTLS checks that a pinned certificate is accepted, and that a
// wrong pin or an unknown CA is refused at once, without retries.
func TestPinnedTLS(t *testing.T) {
	srv, err := server.New(server.Config{Data: t.TempDir(), InsecureHTTP: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var hellos atomic.Int32
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		hellos.Add(1)
		return nil, nil
	}}
	hs.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	hs.StartTLS()
	defer hs.Close()
	pin := hexSum(hs.Certificate().Raw)
	var pinErr *PinError
	var caErr *tls.CertificateVerificationError
	tests := []struct {
		name     string
		fragment string
		wantAs   any // nil: success
	}{
		{"pinned", "#sha256=" + pin, nil},
		{"wrong pin", "#sha256=" + hexSum([]byte("another certificate")), &pinErr},
		{"no pin and an unknown CA", "", &caErr},
	}
	for _, tc := range tests {
		hellos.Store(0)
		acct, dev := newAccountID(t), newDevice(t)
		g, _ := genesis(t, acct, dev)
		s, err := Create(context.Background(), hs.URL+tc.fragment, Options{Account: acct, Device: dev, Genesis: g})
		if tc.wantAs == nil {
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			data := []byte("over TLS")
			if err := s.Put(context.Background(), store.Config, "config", bytes.NewReader(data), int64(len(data))); err != nil {
				t.Errorf("%s: Put: %v", tc.name, err)
			}
			s.Close()
			continue
		}
		if err == nil || !errors.As(err, tc.wantAs) {
			t.Errorf("%s: got %v", tc.name, err)
		}
		if n := hellos.Load(); n != 1 {
			t.Errorf("%s: %d handshakes, want 1 (no retries)", tc.name, n)
		}
	}
}

// TestPlainHTTPOnlyToLoopback checks that http:// is refused for any host
// that is not loopback, and works for localhost.
func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	opts := Options{Account: newAccountID(t), Device: newDevice(t)}
	for _, loc := range []string{"http://example.com", "http://192.168.1.1:8080", "http://[2001:db8::1]:80"} {
		if _, err := Open(loc, opts); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s: got %v", loc, err)
		}
	}
	ts := newTestServer(t, nil)
	s := ts.open(t, strings.Replace(ts.URL, "127.0.0.1", "localhost", 1), opts.Account, opts.Device)
	g, _ := genesis(t, opts.Account, opts.Device)
	if err := s.RegisterAccount(context.Background(), opts.Account, g); err != nil {
		t.Errorf("http://localhost: %v", err)
	}
}

// onlyReader hides every method of its reader but Read, so that it cannot
// be rewound.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// TestRetries checks what is retried, and how, against injected faults.
func TestRetries(t *testing.T) {
	ctx := context.Background()
	data := []byte("retried payload")
	name := hexSum(data)
	put := func(s *Store) error { return s.Put(ctx, store.Packs, name, bytes.NewReader(data), int64(len(data))) }
	read := func(s *Store) error {
		got, err := store.ReadAll(ctx, s, store.Packs, name, 100)
		if err == nil && !bytes.Equal(got, data) {
			err = errors.New("read back other bytes")
		}
		return err
	}
	tests := []struct {
		name    string
		f       fault
		setup   bool // store the object first
		op      func(*Store) error
		wantErr string // "" for success
		spoiled int
	}{
		{"503 on PUT", fault{match: "PUT /v1/objects/", n: 2, status: 503}, false, put, "", 2},
		{"500 on GET", fault{match: "GET /v1/objects/packs/" + name, n: 3, status: 500}, true, read, "", 3},
		{"503 on HEAD", fault{match: "HEAD /v1/objects/", n: 1, status: 503}, true, func(s *Store) error {
			_, err := s.Stat(ctx, store.Packs, name)
			return err
		}, "", 1},
		{"503 on LIST", fault{match: "GET /v1/objects/packs/", n: 2, status: 503}, true, func(s *Store) error {
			return s.List(ctx, store.Packs, func(store.ObjectInfo) error { return nil })
		}, "", 2},
		{"dropped connection on login", fault{match: "POST /v1/auth/", n: 2, status: 0}, false, put, "", 2},
		{"PUT done, answer lost", fault{match: "PUT /v1/objects/", n: 1, status: 0, swallow: true}, false, func(s *Store) error {
			if err := put(s); err != nil {
				return err
			}
			return read(s)
		}, "", 1},
		{"config PUT done, then 503", fault{match: "PUT /v1/objects/config/", n: 1, status: 503, swallow: true}, false, func(s *Store) error {
			return s.Put(ctx, store.Config, "config", bytes.NewReader(data), int64(len(data)))
		}, "", 1},
		{"DELETE done, answer lost", fault{match: "DELETE /v1/objects/", n: 1, status: 0, swallow: true}, true, func(s *Store) error {
			return s.Delete(ctx, store.Packs, name)
		}, "", 1},
		{"429 honours Retry-After", fault{match: "PUT /v1/objects/", n: 1, status: 429, retryAfter: "1"}, false, func(s *Store) error {
			start := time.Now()
			err := put(s)
			if d := time.Since(start); err == nil && d < fastPolicy.maxRetryAfter {
				err = errors.New("retried after only " + d.String())
			}
			return err
		}, "", 1},
		{"a reader that cannot seek is sent once", fault{match: "PUT /v1/objects/", n: 1, status: 503}, false, func(s *Store) error {
			return s.Put(ctx, store.Packs, name, onlyReader{bytes.NewReader(data)}, int64(len(data)))
		}, "injected fault 503", 1},
		{"giving up", fault{match: "GET /v1/objects/", n: 100, status: 503}, true, read, "gave up after 5 tries", 5},
		{"403 is not retried", fault{match: "GET /v1/objects/", n: 100, status: 403}, true, read, "injected fault 403", 1},
	}
	ts := newTestServer(t, nil)
	for _, tc := range tests {
		s := ts.account(t)
		if tc.setup {
			if err := put(s); err != nil {
				t.Fatal(err)
			}
		}
		ts.faults.set(tc.f)
		err := tc.op(s)
		spoiled, _, _ := ts.faults.counts(0)
		ts.faults.set(fault{})
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.wantErr)
		}
		if spoiled != tc.spoiled {
			t.Errorf("%s: %d requests spoiled, want %d", tc.name, spoiled, tc.spoiled)
		}
	}
}

// TestRateLimited checks that a client paced by the server's real rate
// limit (429 with Retry-After) gets every request through.
func TestRateLimited(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.Rate = 20 })
	s := ts.account(t)
	s.policy.attempts = 10
	for i := range 60 {
		if _, err := s.Stat(context.Background(), store.Config, "config"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if _, _, n := ts.faults.counts(http.StatusTooManyRequests); n == 0 {
		t.Error("the server never limited the rate: the test tests nothing")
	}
}

// TestTokens checks that one login serves concurrent requests, that a
// token is replaced before it expires and after a 401 (once), and that no
// error ever shows a token.
func TestTokens(t *testing.T) {
	ctx := context.Background()
	ts := newTestServer(t, nil)
	s := ts.account(t)
	stat := func() error {
		_, err := s.Stat(ctx, store.Config, "config")
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	var errs []error
	logins := func() int {
		_, n, _ := ts.faults.counts(0)
		return n
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if err := stat(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := logins(); n != 1 {
		t.Errorf("16 concurrent first requests made %d logins, want 1", n)
	}
	steps := []struct {
		name     string
		advance  time.Duration
		f        fault
		wantErr  bool
		wantNew  int // logins made
		want401s int // 401 answers seen
	}{
		{"fresh token reused", 5 * time.Minute, fault{}, false, 0, 0},
		{"replaced three quarters through its life", 7 * time.Minute, fault{}, false, 1, 0},
		{"replaced after it expired", time.Hour, fault{}, false, 1, 0},
		{"one 401 makes one new login", 0, fault{match: "HEAD /v1/", n: 1, status: 401}, false, 1, 1},
		{"401 for good is reported after one new login", 0, fault{match: "HEAD /v1/", n: 100, status: 401}, true, 1, 2},
	}
	for _, st := range steps {
		ts.clock.advance(st.advance)
		ts.faults.set(st.f)
		_, before, b401 := ts.faults.counts(http.StatusUnauthorized)
		err := stat()
		_, after, a401 := ts.faults.counts(http.StatusUnauthorized)
		if (err != nil) != st.wantErr || after-before != st.wantNew || a401-b401 != st.want401s {
			t.Errorf("%s: got %v, %d new logins and %d 401s; want %d and %d", st.name, err, after-before, a401-b401, st.wantNew, st.want401s)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	ts.faults.set(fault{})
	errs = append(errs, s.Put(ctx, store.Packs, "nothex", strings.NewReader("x"), 1))
	for _, err := range errs {
		for _, tok := range ts.faults.secrets() {
			if err != nil && strings.Contains(err.Error(), tok) {
				t.Errorf("an error shows a token: %v", err)
			}
		}
	}
}

// TestListPages checks that List follows a listing over many pages.
func TestListPages(t *testing.T) {
	ts := newTestServer(t, nil)
	s := ts.account(t)
	s.pageSize = 7
	var want []string
	for i := range 30 {
		data := []byte{byte(i)}
		want = append(want, hexSum(data))
		if err := s.Put(context.Background(), store.Index, hexSum(data), bytes.NewReader(data), 1); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(want)
	var got []string
	err := s.List(context.Background(), store.Index, func(oi store.ObjectInfo) error {
		got = append(got, oi.Name)
		return nil
	})
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("List: %v; got %d names, want %d in order", err, len(got), len(want))
	}
}

// TestRefs checks compare-and-swap references.
func TestRefs(t *testing.T) {
	ctx := context.Background()
	ts := newTestServer(t, nil)
	s := ts.account(t)
	if _, _, err := s.GetRef(ctx, "head"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRef of an unset ref: %v", err)
	}
	steps := []struct {
		value    string
		version  int64
		f        fault
		want     int64 // new version; 0 for a conflict
		conflict int64 // the version a conflict reports
	}{
		{"one", 0, fault{}, 1, 0},
		{"stale", 0, fault{}, 0, 1},
		{"two", 1, fault{}, 2, 0},
		{"three", 2, fault{match: "PUT /v1/refs/", n: 1, status: 0, swallow: true}, 3, 0}, // answer lost
		{"stale again", 2, fault{}, 0, 3},
		{"", 3, fault{}, 4, 0},
	}
	for _, st := range steps {
		ts.faults.set(st.f)
		got, err := s.SetRef(ctx, "head", []byte(st.value), st.version)
		var ce *ConflictError
		switch {
		case st.want == 0 && (!errors.As(err, &ce) || ce.Version != st.conflict || ce.Ref != "head"):
			t.Errorf("SetRef %q at %d: got %v, want a conflict at %d", st.value, st.version, err, st.conflict)
		case st.want != 0 && (err != nil || got != st.want):
			t.Errorf("SetRef %q at %d: got %d, %v; want %d", st.value, st.version, got, err, st.want)
		}
	}
	ts.faults.set(fault{})
	if v, n, err := s.GetRef(ctx, "head"); err != nil || len(v) != 0 || n != 4 {
		t.Errorf("GetRef: %q at %d, %v", v, n, err)
	}
	if _, err := s.SetRef(ctx, "head", make([]byte, 64<<10+1), 4); err == nil {
		t.Error("SetRef of an oversized value succeeded")
	}
	if _, err := s.SetRef(ctx, "../x", nil, 0); err == nil {
		t.Error("SetRef of a bad name succeeded")
	}
}

// TestDevices checks registration by genesis, adding an append-only device
// by a chain entry, its limits, and its removal.
func TestDevices(t *testing.T) {
	ctx := context.Background()
	ts := newTestServer(t, func(c *server.Config) { c.RegistrationToken = "sesame" })
	acct, dev := newAccountID(t), newDevice(t)
	s := ts.open(t, ts.URL, acct, dev)
	g, _ := genesis(t, acct, dev)
	if err := s.RegisterAccount(ctx, acct, g); err == nil {
		t.Fatal("registered without the registration token")
	}
	s.opts.RegistrationToken = "sesame"
	if err := s.RegisterAccount(ctx, acct, nil); err == nil {
		t.Error("registered without a genesis")
	}
	if err := s.RegisterAccount(ctx, acct, g); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterAccount(ctx, acct, g); !errors.Is(err, store.ErrExists) {
		t.Errorf("second registration: %v", err)
	}
	c, err := devices.Verify(acct, [][]byte{g})
	if err != nil {
		t.Fatal(err)
	}
	o := &owner{Store: s, chain: c}
	stranger := ts.open(t, ts.URL, acct, newDevice(t))
	_, err = stranger.Stat(ctx, store.Config, "config")
	if err == nil || errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "authenticating") {
		t.Errorf("a device not in the account: %v", err)
	}
	second := newDevice(t)
	entry := o.addDeviceWith(t, second, devices.AppendOnly)
	var se *Error
	if err := s.AppendChain(ctx, 2, entry); !errors.Is(err, store.ErrConflict) || !errors.As(err, &se) || se.Length != 1 {
		t.Errorf("append at the wrong position: %v", err)
	}
	if err := s.AppendChain(ctx, 1, entry[:len(entry)-1]); !errors.As(err, &se) || se.Code != "bad_entry" || errors.Is(err, store.ErrConflict) {
		t.Errorf("a cut entry: %v", err)
	}
	o.add(t, s, entry)
	ds, err := s.ListDevices(ctx)
	if err != nil || len(ds) != 2 || ds[0].Device != dev.ID || ds[0].Rights != RightsFull ||
		ds[1].Device != second.ID || ds[1].Rights != RightsAppendOnly || ds[1].AddedBy != dev.ID || ds[1].Revoked != nil {
		t.Fatalf("ListDevices: %+v, %v", ds, err)
	}
	s2 := ts.open(t, ts.URL, acct, second)
	data := []byte("appended")
	if err := s2.Put(ctx, store.Packs, hexSum(data), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Errorf("append-only Put: %v", err)
	}
	if err := s2.Delete(ctx, store.Packs, hexSum(data)); !errors.As(err, &se) || se.Status != http.StatusForbidden {
		t.Errorf("append-only Delete: %v", err)
	}
	remove, err := o.chain.RemoveDevice(devices.ByDevice(dev), second.ID, [32]byte{1}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.AppendChain(ctx, o.chain.Len(), remove); !errors.As(err, &se) || se.Status != http.StatusForbidden {
		t.Errorf("append-only AppendChain: %v", err)
	}
	o.add(t, s, remove)
	// The removed device's token fails (401), and so does its new login (403).
	if _, err := s2.Stat(ctx, store.Packs, hexSum(data)); !errors.As(err, &se) || se.Status != http.StatusForbidden {
		t.Errorf("removed device: %v", err)
	}
	if ds, err := s.ListDevices(ctx); err != nil || len(ds) != 2 || ds[1].Revoked == nil {
		t.Errorf("after removal: %+v, %v", ds, err)
	}
}

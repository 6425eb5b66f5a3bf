package server

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/server/objects"
	"github.com/coffer-backup/coffer/internal/server/wire"
)

// clock is a settable clock for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer collects the server's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// env is a server and a client of it, with a settable clock.
type env struct {
	t      testing.TB
	s      *Server
	url    string
	clock  *clock
	log    *syncBuffer
	client *http.Client
}

// newServer makes a server for plain HTTP in a temp directory, closed when
// the test ends. Its env has no URL yet.
func newServer(t testing.TB, mods ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, log: &syncBuffer{}, client: http.DefaultClient}
	cfg := Config{Data: t.TempDir(), InsecureHTTP: true, Log: e.log, Now: e.clock.Now}
	for _, m := range mods {
		m(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.s = s
	t.Cleanup(func() { s.Close() })
	return e
}

// newEnv makes a server listening on a loopback address.
func newEnv(t testing.TB, mods ...func(*Config)) *env {
	t.Helper()
	e := newServer(t, mods...)
	hs := httptest.NewServer(e.s.Handler())
	e.url = hs.URL
	t.Cleanup(hs.Close) // runs before the server's Close
	return e
}

// from returns a copy of e whose client connects from the loopback address
// ip, such as 127.0.0.2.
func (e *env) from(ip string) *env {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c := *e
	c.client = &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	return &c
}

// device is a test device whose keys are determined by a seed number.
type device struct {
	key ed25519.PrivateKey
	id  string
	k   *keys.Device
}

func newDevice(seed int) device {
	var s [32]byte
	binary.BigEndian.PutUint64(s[:], uint64(seed)+1)
	k := ed25519.NewKeyFromSeed(s[:])
	s[0] = 0x80
	kem, err := hpke.MLKEM768X25519().NewPrivateKey(s[:])
	if err != nil {
		panic(err) // a 32-byte seed is always valid
	}
	id := keys.DeviceID(k.Public().(ed25519.PublicKey))
	return device{key: k, id: id, k: &keys.Device{ID: id, Sign: k, KEM: kem, Name: "device " + id[:6]}}
}

func (d device) pub() []byte { return d.key.Public().(ed25519.PublicKey) }

// countersign is the new device's part of an add-device entry.
func (d device) countersign(m []byte) []byte { return ed25519.Sign(d.key, m) }

// recoveryKey returns a new recovery key.
func recoveryKey(t testing.TB) *keys.RecoveryKey {
	t.Helper()
	rk, err := keys.NewRecoveryKey()
	if err != nil {
		t.Fatal(err)
	}
	return rk
}

// commitOf returns a root-key commitment determined by a byte.
func commitOf(b byte) [32]byte {
	var k crypt.Key
	k[0] = b
	return devices.KeyCommitment(&k)
}

// genesis returns the genesis entry of account with first device d and
// recovery key rk.
func genesis(t testing.TB, account string, d device, rk *keys.RecoveryKey) []byte {
	t.Helper()
	g, err := devices.NewGenesis(account, d.k, rk, commitOf(0), time.Unix(1e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// accountID returns a deterministic account ID.
func accountID(n int) string { return fmt.Sprintf("%032x", 0xacc0000+n) }

// resp is a response read in full.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// code returns the error code of an error body, or "".
func (r resp) code() string {
	var e wire.Error
	_ = json.Unmarshal(r.body, &e) // not an error body: no code
	return e.Code
}

// req describes a request of the test client.
type req struct {
	method, path, token string
	body                any // nil, []byte, string, or a value sent as JSON
	header              map[string]string
}

func (e *env) do(q req) resp {
	e.t.Helper()
	var body io.Reader
	switch b := q.body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	case string:
		body = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	r, err := http.NewRequest(q.method, e.url+q.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if q.token != "" {
		r.Header.Set("Authorization", "Bearer "+q.token)
	}
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	res, err := e.client.Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// want fails the test unless r has the status and, if given, the code.
func (r resp) want(t testing.TB, what string, status int, code string) {
	t.Helper()
	if r.status != status || code != "" && r.code() != code {
		t.Errorf("%s: %d %s, want %d %s", what, r.status, bytes.TrimSpace(r.body), status, code)
	}
}

// decode unmarshals a JSON response body.
func decode[T any](t testing.TB, r resp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return v
}

func (e *env) register(account string, d device, rk *keys.RecoveryKey) resp {
	return e.do(req{method: "POST", path: "/v1/accounts", body: wire.RegisterRequest{Account: account, Genesis: genesis(e.t, account, d, rk)}})
}

// challenge asks for a challenge and returns it.
func (e *env) challenge(account string, d device) []byte {
	e.t.Helper()
	r := e.do(req{method: "POST", path: "/v1/auth/challenge", body: wire.ChallengeRequest{Account: account, Device: d.id}})
	r.want(e.t, "challenge", 200, "")
	return decode[wire.ChallengeResponse](e.t, r).Challenge
}

// tokenRequest signs a challenge.
func tokenRequest(account string, d device, ch []byte) wire.TokenRequest {
	return wire.TokenRequest{Account: account, Device: d.id, Challenge: ch, Signature: ed25519.Sign(d.key, wire.AuthMessage(account, d.id, ch))}
}

// login authenticates a principal and returns its token.
func (e *env) login(account string, d device) string {
	e.t.Helper()
	r := e.do(req{method: "POST", path: "/v1/auth/token", body: tokenRequest(account, d, e.challenge(account, d))})
	r.want(e.t, "token", 200, "")
	return decode[wire.TokenResponse](e.t, r).Token
}

// principalOf is the recovery key as a principal that can log in.
func principalOf(rk *keys.RecoveryKey) device {
	k := rk.SigningKey()
	return device{key: k, id: keys.DeviceID(k.Public().(ed25519.PublicKey))}
}

// account is a registered account with a full and an append-only device,
// both logged in, its recovery key and the chain as the test built it.
type account struct {
	id               string
	full, appendOnly device
	recovery         *keys.RecoveryKey
	chain            *devices.Chain
	token, aoToken   string
}

func (e *env) newAccount(n int) *account {
	e.t.Helper()
	a := &account{id: accountID(n), full: newDevice(2 * n), appendOnly: newDevice(2*n + 1), recovery: recoveryKey(e.t)}
	g := genesis(e.t, a.id, a.full, a.recovery)
	e.do(req{method: "POST", path: "/v1/accounts", body: wire.RegisterRequest{Account: a.id, Genesis: g}}).want(e.t, "register", 201, "")
	var err error
	if a.chain, err = devices.Verify(a.id, [][]byte{g}); err != nil {
		e.t.Fatal(err)
	}
	a.token = e.login(a.id, a.full)
	e.appendEntry(a, a.token, a.addAppendOnly(e.t, a.appendOnly)).want(e.t, "add device", 201, "")
	a.aoToken = e.login(a.id, a.appendOnly)
	return a
}

// addDevice builds the entry by which the full device adds d.
func (a *account) addDevice(t testing.TB, d device) []byte {
	return a.addWith(t, d, devices.Full)
}

// addAppendOnly builds the entry by which the full device adds d as an
// append-only device.
func (a *account) addAppendOnly(t testing.TB, d device) []byte {
	return a.addWith(t, d, devices.AppendOnly)
}

func (a *account) addWith(t testing.TB, d device, r devices.Rights) []byte {
	t.Helper()
	b, err := a.chain.AddDeviceWith(devices.ByDevice(a.full.k), d.k.Public(), r, d.countersign, time.Unix(1e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// removeDevice builds the entry by which the full device removes d.
func (a *account) removeDevice(t testing.TB, d device) []byte {
	t.Helper()
	b, err := a.chain.RemoveDevice(devices.ByDevice(a.full.k), d.id, commitOf(byte(a.chain.Len())), time.Unix(1e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// appendEntry posts entry at the end of a's chain with a token; if the
// server takes it, a's chain is extended.
func (e *env) appendEntry(a *account, token string, entry []byte) resp {
	e.t.Helper()
	r := e.do(req{method: "POST", path: "/v1/chain", token: token, body: wire.ChainAppend{Seq: a.chain.Len(), Entry: entry}})
	if r.status == 201 {
		next, err := a.chain.Extend([][]byte{entry})
		if err != nil {
			e.t.Fatal(err)
		}
		a.chain = next
	}
	return r
}

// content returns n pseudo-random bytes determined by seed, and their name.
func content(seed uint64, n int) ([]byte, string) {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b) // never fails
	return b, sha(b)
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// put stores an object and fails the test unless the answer is status.
func (e *env) put(token, kind string, b []byte, name string, status int) {
	e.t.Helper()
	e.do(req{method: "PUT", path: "/v1/objects/" + kind + "/" + name, token: token, body: b}).want(e.t, "put "+kind+"/"+name[:min(8, len(name))], status, "")
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// signedBy returns e as the next entry of c signed by dev, without the
// builders' checks: an entry a hostile device could make.
func signedBy(c *devices.Chain, e *devices.Entry, dev *keys.Device) []byte {
	e.Account, e.Seq, e.Prev, e.Signer = c.Account(), c.Len(), c.Head(), dev.ID
	e.Time = time.Unix(1e9, 0).UTC()
	e.Sig, e.Countersig = nil, nil
	e.Sig = ed25519.Sign(dev.Sign, crypt.AD("coffer v1 device chain", e.Marshal()))
	return e.Marshal()
}

// accountDir is the directory of an account's objects, for a server on
// the local object backend.
func (s *Server) accountDir(account string) string {
	return s.objects.(*objects.Local).Dir(account)
}

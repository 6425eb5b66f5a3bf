// Package remote implements store.Store over the Coffer server API
// (docs/api.md), so that the engine reaches a `coffer serve` exactly as it
// reaches a local directory: one storage interface, one code path above it.
//
// The server is trusted for availability only. Everything this package
// returns is checked for shape and size before it is used or allocated
// (object bytes themselves are authenticated by the caller), TLS is either
// pinned to one certificate or validated against the system's CAs, and
// plain HTTP is spoken only to loopback addresses. Requests authenticate
// with a short-lived bearer token obtained by signing a server challenge
// with the device's Ed25519 key; the token never appears in an error.
// Idempotent requests are retried with exponential backoff and jitter on
// network errors, 5xx and 429 answers. No server can hold a call for ever
// (Timeouts): every exchange is bounded by internal/deadline, and a call's
// retries by a time budget.
package remote

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/coffer-backup/coffer/internal/deadline"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store"
)

// Options say who talks to the server.
type Options struct {
	// Account is the 32-hex-digit account (repository) ID.
	Account string
	// Device signs authentication challenges. The Store keeps the pointer
	// and uses it until Close; the caller zeroes it afterwards.
	Device *keys.Device
	// Signer, when Device is nil, is the Ed25519 key of another principal
	// of the account, which logs in under the ID keys.DeviceID of its
	// public key: the recovery key (keys.RecoveryKey.SigningKey) or a
	// recovery contact's device key. The Store keeps and uses it until
	// Close; the caller zeroes it afterwards.
	Signer ed25519.PrivateKey
	// Session, when Device and Signer are nil, is a browser session
	// (docs/web.md), which logs in under its ID with its Ed25519 key,
	// which it keeps to itself: the web app's WebAssembly.
	Session *Session
	// Genesis is the account's device chain genesis entry, which Create
	// registers; its device must be Device.
	Genesis []byte
	// RegistrationToken is sent as Coffer-Registration when registering an
	// account on a server that demands one.
	RegistrationToken string
	// Timeouts bound how long the server can hold a call; zero fields
	// take their defaults.
	Timeouts Timeouts
}

// Timeouts bound how long a server can hold a call (docs/api.md, Client
// deadlines). A zero field takes its default.
type Timeouts struct {
	// Limits bound each exchange with the server, a try of a call or the
	// reading of its answer (internal/deadline): it fails after Idle
	// without progress (default 30 s; plus the wait asked of the server,
	// for a pairing poll), or once the time spent waiting on the server
	// passes Min plus one second per Rate bytes sent and received
	// (defaults 2 min and 32 KiB/s).
	deadline.Limits
	// Retry bounds a call's retries: no try starts, and no pause before
	// one ends, later than Retry plus the request body's size at Rate
	// after the call started (default 2 min). A call thus fails within
	// about Retry plus the limit of its last exchange.
	Retry time.Duration
}

// DefaultRetry is the default of Timeouts.Retry.
const DefaultRetry = 2 * time.Minute

// orDefaults returns t with each zero field set to its default.
func (t Timeouts) orDefaults() Timeouts {
	t.Limits = t.OrDefaults()
	if t.Retry <= 0 {
		t.Retry = DefaultRetry
	}
	return t
}

// Store is a store.Store kept by a Coffer server. It is safe for concurrent
// use; requests share one connection pool and one token.
type Store struct {
	ep       endpoint
	opts     Options
	client   *http.Client
	bulk     *http.Client // for pack bodies and pack reads of bulkBody bytes or more (Store.get)
	timeouts Timeouts
	policy   policy
	now      func() time.Time // the clock tokens expire by
	pageSize int              // names asked for per list page

	tokMu     sync.Mutex
	tok       string
	tokReauth time.Time // when to fetch a new token
}

var _ store.Store = (*Store)(nil)

// Open returns a Store for the server at location, an https:// URL
// (optionally pinned with #sha256=HEX) or an http:// URL of a loopback
// host. It does not contact the server: the first request authenticates.
func Open(location string, o Options) (*Store, error) {
	ep, err := parseLocation(location)
	if err != nil {
		return nil, err
	}
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("store %s: %w", ep, err)
	}
	return newStore(ep, o), nil
}

// OpenAnonymous returns a Store for the server at location that has no
// credentials: only the calls that need none work (the pairing slots a
// joining device uses, and the log through BaseURL and HTTPClient); the
// others fail. t bounds its calls; zero fields take their defaults.
func OpenAnonymous(location string, t Timeouts) (*Store, error) {
	ep, err := parseLocation(location)
	if err != nil {
		return nil, err
	}
	return newStore(ep, Options{Timeouts: t}), nil
}

// newStore returns the Store of an endpoint.
func newStore(ep endpoint, o Options) *Store {
	t := o.Timeouts.orDefaults()
	return &Store{
		ep: ep, opts: o, timeouts: t, policy: defaultPolicy, now: time.Now, pageSize: wire.MaxListLimit,
		client: newClient(ep, t.Limits, false), bulk: newClient(ep, t.Limits, true),
	}
}

// Create opens the server at location and registers o.Account there by its
// genesis entry o.Genesis, whose device becomes the account's first, fully
// privileged device.
func Create(ctx context.Context, location string, o Options) (*Store, error) {
	s, err := Open(location, o)
	if err != nil {
		return nil, err
	}
	if err := s.RegisterAccount(ctx, o.Account, o.Genesis); err != nil {
		_ = s.Close() // the registration error is the one to report
		return nil, err
	}
	return s, nil
}

// check validates the options.
func (o Options) check() error {
	if err := checkID("account", o.Account); err != nil {
		return err
	}
	if _, _, err := o.principal(); err != nil {
		return err
	}
	return nil
}

// Session is a principal that signs without handing over its key.
type Session struct {
	ID   string
	Sign func(msg []byte) []byte
}

// principal returns the ID and the key the Store logs in with (no key
// for a Session, which signs itself).
func (o Options) principal() (string, ed25519.PrivateKey, error) {
	switch {
	case o.Session != nil && (o.Device != nil || o.Signer != nil):
		return "", nil, errors.New("a session with a device or a signer key")
	case o.Session != nil:
		return o.Session.ID, nil, checkID("session", o.Session.ID)
	case o.Device != nil && o.Signer != nil:
		return "", nil, errors.New("both a device and a signer key were given")
	case o.Device != nil && len(o.Device.Sign) == ed25519.PrivateKeySize:
		return o.Device.ID, o.Device.Sign, nil
	case o.Signer != nil && len(o.Signer) == ed25519.PrivateKeySize:
		return keys.DeviceID(o.Signer.Public().(ed25519.PublicKey)), o.Signer, nil
	}
	return "", nil, errors.New("no unlocked device key or signer key to authenticate with")
}

// checkID accepts an account or device ID: 32 lower-case hex digits.
func checkID(what, id string) error {
	if b, err := hex.DecodeString(id); err != nil || len(b) != 16 || hex.EncodeToString(b) != id {
		return fmt.Errorf("%s ID %q is not 32 lower-case hex digits", what, id)
	}
	return nil
}

// Close forgets the token and closes idle connections. The Store must not
// be used afterwards.
func (s *Store) Close() error {
	s.tokMu.Lock()
	s.tok = ""
	s.tokMu.Unlock()
	s.client.CloseIdleConnections()
	s.bulk.CloseIdleConnections()
	return nil
}

// String names the server, without its pin.
func (s *Store) String() string { return s.ep.String() }

// policy is how requests are retried, within the budget of Timeouts.Retry.
type policy struct {
	attempts      int           // tries in all, the first included
	base, max     time.Duration // backoff before the second try, and its cap
	maxRetryAfter time.Duration // cap on a server's Retry-After
}

// defaultPolicy rides out a server restart of several seconds.
var defaultPolicy = policy{attempts: 8, base: 100 * time.Millisecond, max: 5 * time.Second, maxRetryAfter: time.Minute}

// delay is the pause before try number attempt+1: exponential backoff with
// equal jitter, and at least the server's Retry-After.
func (p policy) delay(attempt int, after time.Duration) time.Duration {
	d := p.max
	if attempt < 30 {
		d = min(p.base<<(attempt-1), p.max)
	}
	d = d/2 + rand.N(d/2+1)
	return max(d, min(after, p.maxRetryAfter))
}

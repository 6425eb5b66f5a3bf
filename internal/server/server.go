// Package server implements coffer serve (docs/api.md): an HTTPS server that
// stores the sealed objects of many accounts and authenticates devices by
// their Ed25519 keys. It never sees a plaintext byte or a key that opens
// one, and is trusted for availability only.
//
// All state lives in a metadata database (internal/server/meta; SQLite at
// DATA/meta.db by default, or PostgreSQL, which several instances may
// share), in an object backend holding one store per account
// (internal/server/objects: DATA/accounts/<account>/ by default, or
// PREFIX/accounts/<account>/ in an S3 bucket) and in the transparency
// log's key (DATA/log.key, or a file every instance is given), so a server
// process holds nothing a restart, or another instance, would lose:
// tokens, challenges, the log, its checkpoint and the witnesses' sizes are
// in the database. Every device-chain entry and account name the server
// accepts is appended to the log in the transaction that stores it, and
// the answer waits for a signed, witness-cosigned checkpoint covering it
// (docs/transparency.md §T.6). What a process does keep in memory —
// rate-limit buckets, metrics counters and a cache of verified chains
// checked against the database — is per process.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/metrics"
	"github.com/coffer-backup/coffer/internal/server/objects"
	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/s3"
)

// Server timing (docs/api.md, Operations).
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	progressTimeout   = time.Minute // a body read or write stalled this long fails
	shutdownGrace     = 30 * time.Second
	maxHeaderBytes    = 64 << 10
)

// DefaultListen is the address coffer serve listens on unless told
// otherwise: loopback only, so exposing the server is a deliberate choice.
const DefaultListen = "127.0.0.1:8443"

// Config configures a Server.
type Config struct {
	// Data is the data directory: meta.db, accounts/ and tls/ live there
	// (with DB, only accounts/ and tls/).
	Data string
	// Objects is where accounts' objects are kept: "" for DATA/accounts,
	// or s3://BUCKET/PREFIX for a prefix of an S3 bucket, on the service
	// at S3Endpoint ("" for AWS) with credentials from the AWS_*
	// environment. The server refuses to start on a service that does not
	// honour If-None-Match: *.
	Objects, S3Endpoint string
	// DB, if not empty, is the URL (postgres://…) of a PostgreSQL
	// metadata database, which any number of instances may share, in
	// place of SQLite in Data/meta.db. It needs LogKeyFile.
	DB string
	// LogKeyFile is the file of the transparency log's signing key, in
	// the format of DATA/log.key, made with LogOrigin if missing; if
	// empty, DATA/log.key is used. Every instance sharing a DB must be
	// given the same key: the database records the first key's verifier
	// key and refuses any other.
	LogKeyFile string
	// Listen is the TCP address Run listens on (DefaultListen if empty).
	Listen string
	// TLSCert and TLSKey name PEM files of the certificate to serve. If
	// both are empty and InsecureHTTP is false, a self-signed certificate
	// is made once in Data/tls/ and its SHA-256 pin is printed.
	TLSCert, TLSKey string
	// InsecureHTTP serves plain HTTP; Serve then refuses any listener that
	// is not on a loopback address.
	InsecureHTTP bool
	// Quota is the most bytes one account may store; 0 means no limit.
	Quota int64
	// Rate is the sustained number of requests per second allowed to each
	// account and to each client address; 0 means no limit.
	Rate float64
	// Budget is how many requests each account and each client address
	// may make at once: a bucket of Budget tokens, one spent per request,
	// refilled at Rate per second. 0 means twice Rate. coffer serve uses
	// DefaultRate and DefaultBudget unless told otherwise.
	Budget float64
	// TrustedProxies are the prefixes of the load balancers or reverse
	// proxies in front of the server: for a request from one of them, the
	// client's address (rate limits, logs) is taken from X-Forwarded-For
	// (clientAddr). Without them the header is ignored.
	TrustedProxies []netip.Prefix
	// ObjectCatalog keeps an authoritative catalog of the objects in the
	// PostgreSQL database (objects.Cataloged); it needs DB and Objects.
	ObjectCatalog bool
	// Web allows browser sessions (docs/web.md): the server accepts
	// browser-session chain entries and authenticates their read-only
	// principals, and serves WebApp, if not nil, at every path outside
	// /v1/, /log/, /healthz and /metrics. Without Web, sessions are
	// refused however the account is set.
	Web bool
	// WebApp is the static web app (package webui), which sets its own
	// headers (Content-Security-Policy and the like).
	WebApp http.Handler
	// RegistrationToken, if not empty, must be presented in the
	// Coffer-Registration header to register an account.
	RegistrationToken string
	// Log receives the JSON logs and the line giving the server's URL;
	// os.Stderr if nil.
	Log io.Writer
	// Now is the clock for expiry (tokens, challenges); time.Now if nil.
	Now func() time.Time
	// LogOrigin is the origin of the transparency log's key made on first
	// start (DATA/log.key); "coffer.log/" and 16 random hex digits if
	// empty. Once the key exists, a LogOrigin other than its origin is an
	// error.
	LogOrigin string
	// Witnesses cosign the log's checkpoints.
	Witnesses []Witness
	// LogRefresh is how often, with Witnesses, the log's checkpoint is
	// published again although no leaf was added, for cosignatures with
	// fresh timestamps; DefaultLogRefresh if zero.
	LogRefresh time.Duration
	// AnyNames lets objects of content-addressed kinds have any valid name
	// instead of the SHA-256 of their bytes. It exists so that a client can
	// run the store conformance suite (internal/store/storetest) through a
	// server; coffer serve never sets it.
	AnyNames bool
}

// Server is the coffer serve HTTP handler with its database and stores. It
// is safe for concurrent use.
type Server struct {
	cfg      Config
	db       meta.DB
	log      *slog.Logger
	metrics  *metrics.Registry
	byAddr   *limiter // nil without a rate limit
	byAcct   *limiter
	misses   *limiter // failed lookups of unguessable names, by client address
	chains   chainCache
	cert     *tls.Certificate // nil when serving plain HTTP
	pin      string           // hex SHA-256 of a self-signed certificate, else empty
	objects  objects.Backend  // the accounts' object stores
	maxRefs  int              // most refs per account: wire.MaxRefs, lowered by tests
	pageLen  int              // most entries in a chain page: wire.MaxChainPage, lowered by tests
	progress time.Duration    // progressTimeout, lowered by tests
	pub      *publisher       // the transparency log's checkpoints
	stop     context.CancelFunc
	bg       sync.WaitGroup // background work, waited for by Close
	unlock   func()         // releases the shared lock on the data directory
}

// New opens (creating if needed) the data directory, the metadata database
// and, unless InsecureHTTP, the TLS certificate.
func New(cfg Config) (*Server, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	if cfg.Budget == 0 {
		cfg.Budget = 2 * cfg.Rate
	}
	if cfg.LogRefresh == 0 {
		cfg.LogRefresh = DefaultLogRefresh
	}
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:      cfg,
		log:      slog.New(slog.NewJSONHandler(cfg.Log, nil)),
		metrics:  metrics.New(),
		byAddr:   newLimiter(cfg.Rate, cfg.Budget),
		byAcct:   newLimiter(cfg.Rate, cfg.Budget),
		misses:   newLimiter(min(cfg.Rate, missRate), 2*min(cfg.Rate, missRate)),
		maxRefs:  wire.MaxRefs,
		pageLen:  wire.MaxChainPage,
		progress: progressTimeout,
	}
	var err error
	if s.unlock, err = openData(cfg.Data); err != nil {
		return nil, err
	}
	started := false
	defer func() {
		if !started {
			s.unlock()
		}
	}()
	if s.objects, err = openObjects(cfg); err != nil {
		return nil, err
	}
	if err := s.loadCert(); err != nil {
		return nil, err
	}
	witnesses, err := parseWitnesses(cfg.Witnesses)
	if err != nil {
		return nil, err
	}
	key, err := s.loadKey()
	if err != nil {
		return nil, err
	}
	db, err := openDB(cfg, key)
	if err != nil {
		return nil, err
	}
	s.db = db
	if err := s.catalogObjects(); err != nil {
		db.Close()
		return nil, err
	}
	if s.pub, err = newPublisher(db, s.log, key, witnesses); err != nil {
		db.Close()
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.publishStored(ctx)
	if len(witnesses) > 0 {
		s.bg.Go(func() { s.pub.refresh(ctx, cfg.LogRefresh) })
	}
	started = true
	if c, ok := s.objects.(*objects.Cataloged); ok {
		s.bg.Go(func() { s.sweep(ctx, c) })
	}
	return s, nil
}

// Sweeping of the object catalog's dead rows (Config.ObjectCatalog).
const (
	sweepEvery = 10 * time.Minute
	// maxUpload is how old a reservation must be before its key is
	// removed: longer than any upload should last.
	maxUpload = 24 * time.Hour
)

// catalogObjects wraps the object backend in the catalog of the
// PostgreSQL database if Config.ObjectCatalog asks for it.
func (s *Server) catalogObjects() error {
	if !s.cfg.ObjectCatalog {
		return nil
	}
	cat, ok := s.db.(meta.Catalog)
	if !ok || s.cfg.Objects == "" {
		return errors.New("the object catalog needs a PostgreSQL database (--db) and objects in a bucket (--objects)")
	}
	s.objects = objects.NewCataloged(s.objects, cat)
	return nil
}

// sweep removes the catalog's dead keys now and then until ctx ends. Every
// instance sweeps; removing a key twice is harmless.
func (s *Server) sweep(ctx context.Context, c *objects.Cataloged) {
	for {
		n, err := c.Sweep(ctx, maxUpload)
		if err != nil && ctx.Err() == nil {
			s.log.Error("sweeping the object catalog", "error", err.Error())
		} else if n > 0 {
			s.log.Info("object catalog swept", "keys", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(sweepEvery):
		}
	}
}

// checkConfig refuses a configuration that New cannot serve.
func checkConfig(cfg Config) error {
	switch {
	case cfg.Data == "" && !stateless(cfg):
		return errors.New("no data directory given (it holds the SQLite database, the objects or the self-signed certificate; with a PostgreSQL database, objects in S3 and a TLS certificate or plain HTTP, none is needed)")
	case cfg.DB != "" && !strings.HasPrefix(cfg.DB, "postgres://") && !strings.HasPrefix(cfg.DB, "postgresql://"):
		return errors.New("the metadata database must be a postgres:// URL")
	case cfg.DB != "" && cfg.LogKeyFile == "":
		return errors.New("a metadata database needs a log key file: every instance must sign the log with the same key")
	case cfg.InsecureHTTP && (cfg.TLSCert != "" || cfg.TLSKey != ""):
		return errors.New("a TLS certificate was given with --insecure-http")
	case cfg.Quota < 0 || cfg.Rate < 0 || cfg.Budget < 0 || cfg.LogRefresh < 0:
		return errors.New("quota, rate, budget and log refresh interval must not be negative")
	}
	return nil
}

// loadKey reads the log key from cfg.LogKeyFile, else DATA/log.key,
// making it if missing.
func (s *Server) loadKey() (*logKey, error) {
	if s.cfg.LogKeyFile != "" {
		return loadLogKeyFile(s.cfg.LogKeyFile, s.cfg.LogOrigin)
	}
	return loadLogKey(s.cfg.Data, s.cfg.LogOrigin)
}

// dbTimeout bounds connecting to the metadata database at start.
const dbTimeout = time.Minute

// openDB opens the metadata database, PostgreSQL at cfg.DB or SQLite in
// the data directory, and checks that its log is signed by key (recording
// key's verifier key in a database that has none).
func openDB(cfg Config, key *logKey) (meta.DB, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	var db meta.DB
	var err error
	if cfg.DB != "" {
		db, err = meta.OpenPostgres(ctx, cfg.DB)
	} else {
		db, err = meta.OpenSQLite(filepath.Join(cfg.Data, "meta.db"))
	}
	if err != nil {
		return nil, err
	}
	if err := db.BindLogKey(ctx, key.vkey); err != nil {
		db.Close()
		return nil, fmt.Errorf("refusing to start with this log key: %w", err)
	}
	return db, nil
}

// publishStored publishes, in the background, a checkpoint of the leaves
// that no stored checkpoint covers: the log's first, or those appended
// before a crash or by another instance.
func (s *Server) publishStored(ctx context.Context) {
	s.bg.Go(func() {
		n, err := s.db.LogSize(ctx)
		if err == nil {
			err = s.pub.await(ctx, n)
		}
		if err != nil && ctx.Err() == nil {
			s.log.Error("publishing the log's checkpoint at start", "error", err.Error())
		}
	})
}

// LogKey returns the transparency log's note verifier key.
func (s *Server) LogKey() string { return s.pub.key.vkey }

// Close stops background work and closes the database. Call it once no
// request is being served.
func (s *Server) Close() error {
	s.stop()
	s.bg.Wait()
	defer s.unlock()
	return errors.Join(s.db.Close(), s.objects.Close())
}

// Handler returns the HTTP handler of the API. It serves plain requests; TLS
// is up to the caller (Serve does it).
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// URL returns the URL clients use to reach the server listening on addr,
// with the certificate pin if the certificate is self-signed. An
// unspecified address (0.0.0.0, ::) is replaced by the host name.
func (s *Server) URL(addr net.Addr) string {
	hostport := addr.String()
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			hostport = net.JoinHostPort(h, fmt.Sprint(ta.Port))
		}
	}
	switch {
	case s.cert == nil:
		return "http://" + hostport
	case s.pin != "":
		return "https://" + hostport + "#sha256=" + s.pin
	}
	return "https://" + hostport
}

// checkListener refuses to serve plain HTTP on anything but loopback.
func (s *Server) checkListener(ln net.Listener) error {
	if s.cert != nil {
		return nil
	}
	ta, ok := ln.Addr().(*net.TCPAddr)
	if !ok || !ta.IP.IsLoopback() {
		return fmt.Errorf("refusing plain HTTP on %s: --insecure-http needs a loopback --listen address such as 127.0.0.1:8443", ln.Addr())
	}
	return nil
}

// Serve serves the API on ln until ctx is done, then stops accepting
// connections and waits up to 30 seconds for requests in flight (uploads
// included) to finish before closing the rest. It returns nil after such a
// shutdown. A request is in flight once the server has read its headers;
// idle keep-alive connections are closed at once, so a request a client
// sends on one just as the shutdown begins finds the connection closed, as
// HTTP/1.1 allows, and is the client's to retry.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := s.checkListener(ln); err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	serve := func() error { return srv.Serve(ln) }
	if s.cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*s.cert}, MinVersion: tls.VersionTLS13}
		serve = func() error { return srv.ServeTLS(ln, "", "") }
	}
	done := make(chan error, 1)
	go func() { done <- serve() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace_seconds", shutdownGrace.Seconds())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("requests still running after the grace period were cut off", "error", err.Error())
		_ = srv.Close() // cut them off; Serve has returned already
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Run is coffer serve: it opens the server, listens on cfg.Listen, prints
// "coffer: serving on URL" and serves until ctx is done.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	s, err := New(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	if err := s.checkListener(ln); err != nil {
		return err
	}
	fmt.Fprintf(s.cfg.Log, "coffer: log key %s\n", s.LogKey())
	fmt.Fprintf(s.cfg.Log, "coffer: serving on %s\n", s.URL(ln.Addr()))
	return s.Serve(ctx, ln)
}

// openObjects opens the object backend cfg names: a directory in the data
// directory, or a prefix of an S3 bucket.
func openObjects(cfg Config) (objects.Backend, error) {
	if cfg.Objects == "" {
		if cfg.S3Endpoint != "" {
			return nil, errors.New("an S3 endpoint was given without S3 objects (s3://BUCKET/PREFIX)")
		}
		return objects.NewLocal(filepath.Join(cfg.Data, objects.AccountsDir))
	}
	loc, err := s3.ParseLocation(cfg.Objects)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return objects.NewS3(ctx, loc, cfg.S3Endpoint)
}

// store returns the object store of an account.
func (s *Server) store(account string) (store.Store, error) { return s.objects.Account(account) }

// stateless reports whether cfg keeps nothing in a data directory: the
// metadata in PostgreSQL, the objects in S3, the log key in a file of its
// own and a given TLS certificate (or none), as instances behind a load
// balancer run.
func stateless(cfg Config) bool {
	return cfg.DB != "" && cfg.Objects != "" && (cfg.InsecureHTTP || cfg.TLSCert != "")
}

// openData creates the data directory if one is given and holds its
// shared lock, which coffer serve migrate takes exclusively; it returns
// the function that releases it.
func openData(dir string) (func(), error) {
	if dir == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	unlock, err := LockData(dir, false)
	if err != nil {
		return nil, fmt.Errorf("refusing to start: %w (coffer serve migrate is copying it)", err)
	}
	return unlock, nil
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/passphrase"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/cache"
	storeopen "github.com/coffer-backup/coffer/internal/store/open"
	"github.com/coffer-backup/coffer/internal/store/remote"
	"github.com/coffer-backup/coffer/internal/termsafe"
	"github.com/coffer-backup/coffer/internal/transparency"
	"golang.org/x/term"
)

// env is what a command runs with: its flags and standard streams.
type env struct {
	o              opts
	stdin          io.Reader
	stdout, stderr io.Writer
	errMu          sync.Mutex // orders the progress line and --verbose lines on stderr
}

// emit prints v as JSON with --json, else calls text.
func (e *env) emit(v any, text func(w io.Writer)) error {
	if e.o.json {
		enc := json.NewEncoder(e.stdout)
		return enc.Encode(v)
	}
	text(e.stdout)
	return nil
}

// interactive reports whether progress may be drawn on stderr.
func (e *env) interactive() bool {
	if e.o.quiet || e.o.json {
		return false
	}
	f, ok := e.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (e *env) home() (*home.Home, error) { return home.Locate() }

// storeLocation returns --store, else $COFFER_STORE, else the default.
func (e *env) storeLocation(h *home.Home) (string, error) {
	if e.o.store != "" {
		return e.o.store, nil
	}
	if s := os.Getenv("COFFER_STORE"); s != "" {
		return s, nil
	}
	s, err := h.Settings()
	if err != nil {
		return "", err
	}
	if s.DefaultStore == "" {
		return "", withHint(errors.New("no store given"), "pass --store DIR, set COFFER_STORE, or run 'coffer init --store DIR' first")
	}
	return s.DefaultStore, nil
}

// prewarm starts making the Argon2id arena of this device's keystore, if it
// has one (keys.PrewarmKeystore), before anything else is allocated.
func (e *env) prewarm() {
	if h, err := e.home(); err == nil {
		keys.PrewarmKeystore(h.KeystorePath())
	}
}

// unlockDevice reads the passphrase and opens this device's keystore.
func (e *env) unlockDevice(h *home.Home) (*keys.Device, error) {
	if !h.HasDevice() {
		return nil, withHint(fmt.Errorf("%w (in %s)", home.ErrNoDevice, h.Dir), "run 'coffer init --store DIR' to create an account; for an existing one, 'coffer join' (with a code from one of its devices) or 'coffer recover' (with the recovery key); or set COFFER_HOME")
	}
	pass, err := passphrase.Get(e.o.passCommand, "Passphrase for this device's Coffer keys: ", false)
	if err != nil {
		return nil, err
	}
	defer clear(pass)
	dev, err := h.LoadDevice(pass)
	if errors.Is(err, keys.ErrWrongPassphrase) {
		return nil, withHint(err, passphraseHint(passphrase.Source(e.o.passCommand)))
	}
	return dev, err
}

// passphraseHint says what to check when the passphrase from source is
// wrong.
func passphraseHint(source string) string {
	switch source {
	case passphrase.CommandFlag:
		return "check what the command of --passphrase-command prints first"
	case passphrase.CommandEnvVar:
		return "check what the command of COFFER_PASSPHRASE_COMMAND prints first"
	case "":
		return "type the passphrase this device's keys were sealed with (set by init, join or recover, or by 'coffer passphrase change')"
	}
	return "check " + source + " (it is used before " + strings.Join(afterSource(source), " and ") + ")"
}

// afterSource lists the passphrase sources source hides.
func afterSource(source string) []string {
	if source == passphrase.EnvVar {
		return []string{passphrase.FileEnvVar, passphrase.CommandEnvVar}
	}
	return []string{passphrase.CommandEnvVar}
}

// session is an opened repository with what it needs closed afterwards.
type session struct {
	repo  *repo.Repo
	store store.Store
	dev   *keys.Device
	home  *home.Home
	chain *account.Chain
	loc   string
	log   *transparency.Report // what the server's transparency log showed, for a server store
}

func (s *session) Close() {
	s.repo.Close()
	s.store.Close()
	s.dev.Zero()
}

// openRepo unlocks the device and opens the store's repository.
func (e *env) openRepo(ctx context.Context) (*session, error) {
	h, err := e.home()
	if err != nil {
		return nil, err
	}
	loc, err := e.storeLocation(h)
	if err != nil {
		return nil, err
	}
	acct, err := e.account(h, loc)
	if err != nil {
		return nil, err
	}
	dev, err := e.unlockDevice(h)
	if err != nil {
		return nil, err
	}
	st, err := e.openStore(h, loc, storeopen.Options{Account: acct, Device: dev})
	if errors.Is(err, storeopen.ErrNoAccount) {
		err = withHint(err, "set COFFER_ACCOUNT to the account ID, or run 'coffer init --store URL' on this device")
	}
	if err != nil {
		dev.Zero()
		return nil, err
	}
	seen := savedLen(h, acct)
	var rep *transparency.Report
	check := func(c *account.Chain) (*account.Chain, error) {
		c, rep, err = e.checkLog(ctx, h, loc, st, c)
		return c, err
	}
	r, c, warn, err := account.Open(ctx, h, e.cached(loc, st), dev, acct, check)
	if remote.IsRevoked(warn) {
		warn, err = nil, fmt.Errorf("%w: the server no longer accepts its key", account.ErrRemoved)
	}
	if warn != nil {
		e.say("warning: %v", warn)
	}
	if err != nil {
		if r != nil {
			r.Close()
		}
		st.Close()
		dev.Zero()
		return nil, e.chainHint(err)
	}
	e.reportSessions(c, seen)
	s := &session{repo: r, store: st, dev: dev, home: h, chain: c, loc: loc, log: rep}
	r.SetPlanAuthority(account.NewPlans(func() *account.Chain { return s.chain }, s.setChain, st, dev))
	return s, nil
}

// setChain makes c the session's chain and saves it.
func (s *session) setChain(c *account.Chain) error {
	s.chain = c
	return c.Save(s.home)
}

// cached returns st behind this device's local cache of the store at loc
// (docs/format.md §12), or st itself for a directory store, with
// --no-cache, or when the cache cannot be opened.
func (e *env) cached(loc string, st store.Store) store.Store {
	if e.o.noCache || !storeopen.IsRemote(loc) && !storeopen.IsS3(loc) {
		return st
	}
	canon, err := storeopen.Canonical(loc)
	if err != nil {
		return st
	}
	dir, err := home.CacheDir(canon)
	if err == nil {
		var c *cache.Store
		if c, err = cache.New(st, dir, 0); err == nil {
			return c
		}
	}
	e.say("warning: reading without a local cache: %v", err)
	return st
}

// s3Endpoint returns the S3 service of the store at loc: --s3-endpoint,
// else the one this device remembers for loc, else "" (AWS). It refuses
// --s3-endpoint with a store that is not in S3.
func (e *env) s3Endpoint(h *home.Home, loc string) (string, error) {
	if !storeopen.IsS3(loc) {
		if e.o.s3Endpoint != "" {
			return "", usageError{"--s3-endpoint goes with an s3:// store only"}
		}
		return "", nil
	}
	if e.o.s3Endpoint != "" {
		return storeopen.CanonicalS3Endpoint(e.o.s3Endpoint)
	}
	s, err := h.Settings()
	if err != nil {
		return "", err
	}
	if canon, err := storeopen.Canonical(loc); err == nil {
		loc = canon
	}
	return s.S3Endpoints[loc], nil
}

// openStore opens the store at loc with o, on the S3 service s3Endpoint
// finds for it.
func (e *env) openStore(h *home.Home, loc string, o storeopen.Options) (store.Store, error) {
	ep, err := e.s3Endpoint(h, loc)
	if err != nil {
		return nil, err
	}
	o.S3Endpoint = ep
	return storeopen.Open(loc, o)
}

// account returns $COFFER_ACCOUNT, else the account this device remembers
// for the store at loc ("" if none: a local store needs none).
func (e *env) account(h *home.Home, loc string) (string, error) {
	if a := os.Getenv("COFFER_ACCOUNT"); a != "" {
		return a, nil
	}
	s, err := h.Settings()
	if err != nil {
		return "", err
	}
	if canon, err := storeopen.Canonical(loc); err == nil {
		loc = canon
	}
	return s.Accounts[loc], nil
}

// snapshots lists the readable snapshots, warning about damaged ones
// (check reports them in full).
//
// Only snapshots the device chain records are read (docs/format.md §8.4);
// one it records that the store lacks is an error, since every answer
// would then be wrong.
func (e *env) snapshots(ctx context.Context, s *session) ([]snapshot.Stored, error) {
	return e.snapshotsUntil(ctx, s, nil)
}

// snapshotsUntil is snapshots reading the newest first, until match
// accepts one (account.ReadHistoryUntil).
func (e *env) snapshotsUntil(ctx context.Context, s *session, match func(snapshot.Stored) bool) ([]snapshot.Stored, error) {
	h, err := e.historyUntil(ctx, s, match)
	if err != nil {
		return nil, err
	}
	if err := h.MissingError(s.chain); err != nil {
		return nil, withHint(err, "the store lost it or hides it; restore it to the store, or, to accept the loss, 'coffer forget ID' on a full device")
	}
	return e.byDevice(s, e.o.filter.Select(h.Snapshots))
}

// byDevice keeps, with --device, the snapshots written by the device of
// that name or ID prefix.
func (e *env) byDevice(s *session, snaps []snapshot.Stored) ([]snapshot.Stored, error) {
	if e.o.device == "" {
		return snaps, nil
	}
	id, err := s.chain.Find(e.o.device)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--device %s: %v", termsafe.Name(e.o.device), err)}
	}
	return slices.DeleteFunc(snaps, func(sn snapshot.Stored) bool { return sn.Author.Device != id }), nil
}

// find resolves a snapshot reference: with --device, "latest" is that
// device's newest snapshot whatever its rights; without, never one an
// append-only device wrote (snapshot.Find).
func (e *env) find(snaps []snapshot.Stored, ref string) (snapshot.Stored, error) {
	if e.o.device != "" {
		return snapshot.FindOf(snaps, ref)
	}
	return snapshot.Find(snaps, ref)
}

// history reads the account's recorded snapshots, warning about damaged
// ones and about snapshot objects the chain does not record.
func (e *env) history(ctx context.Context, s *session) (*account.History, error) {
	return e.historyUntil(ctx, s, nil)
}

// historyUntil is history reading the newest snapshots first, until match
// accepts one (account.ReadHistoryUntil).
func (e *env) historyUntil(ctx context.Context, s *session, match func(snapshot.Stored) bool) (*account.History, error) {
	h, err := account.ReadHistoryUntil(ctx, s.repo, s.chain, match)
	if err != nil {
		return nil, err
	}
	for _, b := range h.Damaged {
		e.say("warning: skipping a damaged snapshot: %v", b)
	}
	for _, sn := range h.Impostors {
		e.say("warning: snapshot %s claims host %s, the name of another device, but device %s (%s) wrote it",
			sn.ID.Short(), termsafe.Name(sn.Hostname), termsafe.Name(sn.Author.Name), sn.Author.Device)
	}
	for _, id := range h.Ignored {
		if seq, ok := h.Forgotten[id]; ok {
			e.say("warning: ignoring snapshot %s: device chain entry %d forgot it, but the store still has it", id.Short(), seq)
		} else {
			e.say("warning: ignoring snapshot %s: the device chain does not record it, so no device of the account is known to have written it", id.Short())
		}
	}
	return h, nil
}

// openSnapshots opens the repository and lists its readable snapshots.
func (e *env) openSnapshots(ctx context.Context) (*session, []snapshot.Stored, error) {
	s, err := e.openRepo(ctx)
	if err != nil {
		return nil, nil, err
	}
	snaps, err := e.snapshots(ctx, s)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, snaps, nil
}

// openSnapshot opens the repository, resolves SNAP and loads the index, as
// every command that reads a snapshot's content needs.
func (e *env) openSnapshot(ctx context.Context, ref string) (*session, snapshot.Stored, error) {
	s, snaps, err := e.openSnapshots(ctx)
	if err != nil {
		return nil, snapshot.Stored{}, err
	}
	sn, err := e.find(snaps, ref)
	if err == nil {
		err = s.repo.LoadIndex(ctx)
	}
	if err != nil {
		s.Close()
		return nil, snapshot.Stored{}, err
	}
	return s, sn, nil
}

// chainHint adds advice to errors about this device's standing or a store
// that lies about the account's keys.
func (e *env) chainHint(err error) error {
	switch {
	case errors.Is(err, account.ErrRemoved):
		return withHint(err, "another device removed this one; it can no longer read new backups. Join again with 'coffer join' if that was a mistake")
	case errors.Is(err, account.ErrNotMember):
		return withHint(err, "run 'coffer device add' on a device of the account, then 'coffer join' here")
	case errors.Is(err, repo.ErrKeySubstituted), errors.Is(err, devices.ErrFork), errors.Is(err, devices.ErrWrongAccount):
		return withHint(err, "do not back up to this store: it may be trying to read your data; restore from another copy and report it")
	}
	return err
}

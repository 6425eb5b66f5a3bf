// Package repo is a Coffer repository opened with an account's keys: it
// reads and writes blobs, packs, index objects, snapshots and other
// encrypted objects through a store.Store, authenticating everything it
// reads before using it (docs/format.md §4, §9).
package repo

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/chunker"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/store"
)

// Version is the repository format version this program reads and writes.
const Version = 1

// maxConfigSize bounds the configuration object.
const maxConfigSize = 4 << 10

// Config is the cleartext repository configuration (docs/format.md §9). It
// holds nothing secret. It is authenticated by a MAC under a key derived
// from the root key, so it can be read before the root key is unwrapped but
// is trusted only after.
type Config struct {
	Version int       `json:"version"`
	Account string    `json:"account"`
	Created time.Time `json:"created"`
	MAC     []byte    `json:"mac"`
}

// macInput is the canonical encoding of the configuration without its MAC.
func (c Config) macInput() []byte {
	c.MAC = nil
	b, _ := json.Marshal(c) // a struct of plain fields always encodes
	return b
}

// Repo is an open repository. It is safe for concurrent use.
type Repo struct {
	st      store.Store
	cfg     Config
	keys    *crypt.Keys
	sealer  *crypt.Sealer
	opener  *crypt.Opener
	hasher  *crypt.Hasher
	gear    *[256]uint64
	Index   *index.Master
	packer  *packer
	chunker chunker.Params
	// commit is the public commitment to the root key (KeyCommitment).
	commit [32]byte
	// writing is set once a backup session starts: from then on, packs that
	// a prune plan will delete are treated as absent (docs/format.md §8.3).
	writing atomic.Bool
}

// Errors callers distinguish.
var (
	ErrNotRepo     = errors.New("not a Coffer repository")
	ErrVersion     = errors.New("repository of an unsupported format version")
	ErrNoDeviceKey = errors.New("this device holds no key for the repository")
)

// Created is what Create returns: the account and its recovery key, which
// the caller must show to the user exactly once.
type Created struct {
	Account     string
	RecoveryKey *keys.RecoveryKey
}

// NewAccountID draws a random account ID: 32 lower-case hex digits
// (docs/format.md §9).
func NewAccountID() (string, error) {
	var acct [16]byte
	if _, err := rand.Read(acct[:]); err != nil {
		return "", fmt.Errorf("drawing account ID: %w", err)
	}
	return hex.EncodeToString(acct[:]), nil
}

// Create initialises an empty store as a new account's repository: a
// random root key wrapped to dev and to a fresh recovery key.
func Create(ctx context.Context, st store.Store, dev *keys.Device) (*Repo, *Created, error) {
	account, err := NewAccountID()
	if err != nil {
		return nil, nil, err
	}
	return CreateAccount(ctx, st, dev, account)
}

// CreateAccount is Create for an account ID the caller drew with
// NewAccountID, for a store where the account must exist (a server
// registers it) before its objects are written.
func CreateAccount(ctx context.Context, st store.Store, dev *keys.Device, account string) (*Repo, *Created, error) {
	cfg := Config{Version: Version, Account: account, Created: time.Now().UTC().Truncate(time.Second)}
	var root crypt.Key
	defer root.Zero()
	if _, err := rand.Read(root[:]); err != nil {
		return nil, nil, fmt.Errorf("drawing root key: %w", err)
	}
	rk, err := keys.NewRecoveryKey()
	if err != nil {
		return nil, nil, err
	}
	wrappedDev, err := keys.WrapToDevice(&root, cfg.Account, dev.Public())
	if err != nil {
		return nil, nil, err
	}
	wrappedRec, err := keys.WrapToRecovery(&root, cfg.Account, rk)
	if err != nil {
		return nil, nil, err
	}
	r, err := newRepo(st, cfg, &root)
	if err != nil {
		return nil, nil, err
	}
	cfg.MAC = r.keys.ConfigMAC(cfg.macInput())
	r.cfg = cfg
	cfgBytes, err := json.Marshal(cfg)
	if err != nil {
		return nil, nil, err
	}
	for _, o := range []struct {
		kind store.Kind
		name string
		data []byte
	}{
		{store.Keys, keys.DeviceObjectName(dev.ID), wrappedDev},
		{store.Keys, keys.RecoveryObjectName, wrappedRec},
		{store.Config, "config", cfgBytes}, // last: a store without it is not a repository
	} {
		if err := putBytes(ctx, st, o.kind, o.name, o.data); err != nil {
			return nil, nil, err
		}
	}
	return r, &Created{Account: cfg.Account, RecoveryKey: rk}, nil
}

// ReadConfig reads and checks the repository configuration.
func ReadConfig(ctx context.Context, st store.Store) (Config, error) {
	var cfg Config
	b, err := store.ReadAll(ctx, st, store.Config, "config", maxConfigSize)
	if errors.Is(err, store.ErrNotFound) {
		return cfg, fmt.Errorf("%w: no config object", ErrNotRepo)
	}
	if err != nil {
		return cfg, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("%w: config does not parse: %v", ErrNotRepo, err)
	}
	if canon, err := json.Marshal(cfg); err != nil || !bytes.Equal(canon, b) {
		return cfg, fmt.Errorf("%w: config is not in canonical form (altered?)", ErrNotRepo)
	}
	if cfg.Version != Version {
		return cfg, fmt.Errorf("%w: version %d (this program reads version %d)", ErrVersion, cfg.Version, Version)
	}
	if len(cfg.Account) != 32 {
		return cfg, fmt.Errorf("%w: malformed account ID", ErrNotRepo)
	}
	return cfg, nil
}

// Open opens the repository in st with the root key wrapped to dev.
func Open(ctx context.Context, st store.Store, dev *keys.Device) (*Repo, error) {
	cfg, err := ReadConfig(ctx, st)
	if err != nil {
		return nil, err
	}
	wrapped, err := store.ReadAll(ctx, st, store.Keys, keys.DeviceObjectName(dev.ID), keys.MaxObjectSize)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w (device %s)", ErrNoDeviceKey, dev.ID)
	}
	if err != nil {
		return nil, err
	}
	root, err := keys.UnwrapDevice(wrapped, cfg.Account, dev)
	if err != nil {
		return nil, fmt.Errorf("unwrapping the root key for device %s: %w", dev.ID, err)
	}
	defer root.Zero()
	r, err := newRepo(st, cfg, root)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(r.keys.ConfigMAC(cfg.macInput()), cfg.MAC) {
		r.Close()
		return nil, fmt.Errorf("%w: the configuration does not authenticate (altered by the store?)", ErrNotRepo)
	}
	return r, nil
}

func newRepo(st store.Store, cfg Config, root *crypt.Key) (*Repo, error) {
	k, err := crypt.DeriveKeys(root)
	if err != nil {
		return nil, err
	}
	gear, err := crypt.GearTable(&k.Gear)
	if err != nil {
		return nil, err
	}
	sealer, err := crypt.NewSealer(&k.Data)
	if err != nil {
		return nil, err
	}
	r := &Repo{
		st: st, cfg: cfg, keys: k, sealer: sealer, commit: devices.KeyCommitment(root),
		opener: crypt.NewOpener(&k.Data), hasher: crypt.NewHasher(&k.ID),
		gear: gear, Index: index.NewMaster(), chunker: chunker.DefaultParams,
	}
	r.packer = newPacker(r)
	return r, nil
}

// KeyCommitment returns a public commitment to the account root key: a
// device that remembers it notices if a store ever wraps another root key to
// it (docs/security.md, "Root-key substitution").
func (r *Repo) KeyCommitment() [32]byte { return r.commit }

// Config returns the repository configuration.
func (r *Repo) Config() Config { return r.cfg }

// Store returns the underlying store.
func (r *Repo) Store() store.Store { return r.st }

// Gear returns the secret gear table of the chunker.
func (r *Repo) Gear() *[256]uint64 { return r.gear }

// ChunkerParams returns the chunking parameters of the repository.
func (r *Repo) ChunkerParams() chunker.Params { return r.chunker }

// Hash returns the ID of a blob.
func (r *Repo) Hash(t blob.Type, plaintext []byte) blob.ID { return r.hasher.Sum(t, plaintext) }

// Close forgets the keys. It does not close the store.
func (r *Repo) Close() {
	r.sealer.Zero()
	r.opener.Zero()
	r.keys.Zero()
}

func putBytes(ctx context.Context, st store.Store, kind store.Kind, name string, b []byte) error {
	if err := st.Put(ctx, kind, name, bytesReader(b), int64(len(b))); err != nil {
		return fmt.Errorf("writing %s/%s: %w", kind, name, err)
	}
	return nil
}

// Opener returns the envelope opener of the repository's data key.
func (r *Repo) Opener() *crypt.Opener { return r.opener }

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
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/chunker"
	"github.com/coffer-backup/coffer/internal/compress"
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
	keys    *crypt.Keys // derived from the root key of epoch 0
	sealer  *crypt.Sealer
	opener  *crypt.Opener
	hasher  *crypt.Hasher
	gear    *[256]uint64
	Index   *index.Master
	packer  *packer
	chunker chunker.Params
	// compression is the level SealBlob compresses at (SetCompression).
	compression compress.Level
	// epochMu guards chain and roots, which Activate extends.
	epochMu sync.Mutex
	chain   *devices.Chain
	roots   []crypt.Key // roots[e] is the root key of epoch e, up to the current one
	// writing is set once a backup session starts: from then on, packs that
	// a prune plan will delete are treated as absent (docs/format.md §8.3).
	writing atomic.Bool
	plans   PlanAuthority // nil: every plan is trusted (a repository opened without its chain)
	// device signs the index objects this Repo writes and is trusted for
	// those it reads (index.go); nil for a Repo opened by the recovery key.
	device *keys.Device
	// health orders the copies readers try (copies.go).
	health packHealth
	// onUpload, if set, learns every pack this Repo uploads (OnUpload).
	onUpload atomic.Pointer[func(index.Pack)]
	// readOnly holds the keys of a Repo opened by OpenRead, which has no
	// sealer, gear table or root keys; nil otherwise.
	readOnly *ReadKeys
	// sizes are the pack sizes the store listed when the index was last
	// loaded; trees keeps tree packs read whole (treepacks.go).
	sizes atomic.Pointer[map[blob.ID]int64]
	trees *loadCache[blob.ID]
}

// Errors callers distinguish.
var (
	ErrNotRepo     = errors.New("not a Coffer repository")
	ErrVersion     = errors.New("repository of an unsupported format version")
	ErrNoDeviceKey = errors.New("this device holds no key for the repository")
	// ErrKeySubstituted means the store holds a root key the device chain
	// does not record: it wrapped a key of its own (docs/format.md §2.6).
	ErrKeySubstituted = errors.New("the store holds a root key the device chain does not record (substituted by the store?)")
	// ErrNotRecoveryKey means a recovery key is not the one the device
	// chain currently records.
	ErrNotRecoveryKey = errors.New("this is not the account's current recovery key")
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

// NewAccountKeys are the secrets and the genesis entry of an account not
// yet written to a store: the root key of epoch 0, drawn at random, and a
// fresh recovery key.
type NewAccountKeys struct {
	Account string
	// Genesis is the first entry of the device chain, signed by the first
	// device, pinning it, the recovery signing key and the commitment of
	// the root key (docs/devices.md). A server registers the account
	// with it.
	Genesis     []byte
	RecoveryKey *keys.RecoveryKey
	root        crypt.Key
}

// NewAccount draws the root key of epoch 0 and a recovery key for the
// account with ID account (see NewAccountID), and builds the genesis entry
// of its device chain with dev as the first device.
func NewAccount(account string, dev *keys.Device) (*NewAccountKeys, error) {
	nk := &NewAccountKeys{Account: account}
	if _, err := rand.Read(nk.root[:]); err != nil {
		return nil, fmt.Errorf("drawing root key: %w", err)
	}
	rk, err := keys.NewRecoveryKey()
	if err != nil {
		return nil, err
	}
	nk.RecoveryKey = rk
	nk.Genesis, err = devices.NewGenesis(account, dev, rk, devices.KeyCommitment(&nk.root), time.Now())
	if err != nil {
		nk.Zero()
		return nil, err
	}
	return nk, nil
}

// Zero overwrites the root key and the recovery key; call it once the
// recovery key has been shown.
func (nk *NewAccountKeys) Zero() {
	nk.root.Zero()
	nk.RecoveryKey.Zero()
}

// Create initialises an empty store as a new account's repository, with a
// random account ID, dev as its first device and a fresh recovery key.
func Create(ctx context.Context, st store.Store, dev *keys.Device) (*Repo, *Created, error) {
	account, err := NewAccountID()
	if err != nil {
		return nil, nil, err
	}
	nk, err := NewAccount(account, dev)
	if err != nil {
		return nil, nil, err
	}
	defer nk.root.Zero()
	return CreateAccount(ctx, st, dev, nk)
}

// CreateAccount writes a new account's repository to st: the root key of
// epoch 0 wrapped to dev and to the recovery key, the genesis entry of the
// device chain (a chain that already holds exactly this genesis, because a
// server registered the account with it, is fine), and last the
// configuration, without which a store is not a repository. dev must be
// the device NewAccount built the genesis for. The returned Created shares
// nk's recovery key.
func CreateAccount(ctx context.Context, st store.Store, dev *keys.Device, nk *NewAccountKeys) (*Repo, *Created, error) {
	chain, err := devices.Verify(nk.Account, [][]byte{nk.Genesis})
	if err != nil {
		return nil, nil, err
	}
	if _, ok := chain.Device(dev.ID); !ok {
		return nil, nil, fmt.Errorf("the genesis entry is not for device %s", dev.ID)
	}
	if c, _ := chain.Commitment(0); c != devices.KeyCommitment(&nk.root) {
		return nil, nil, fmt.Errorf("the genesis entry commits to another root key: %w", ErrKeySubstituted)
	}
	cfg := Config{Version: Version, Account: nk.Account, Created: time.Now().UTC().Truncate(time.Second)}
	r, err := newRepo(st, cfg, chain, []crypt.Key{nk.root})
	if err != nil {
		return nil, nil, err
	}
	cfg.MAC = r.keys.ConfigMAC(cfg.macInput())
	r.cfg = cfg
	r.device = dev
	if err := r.create(ctx, dev, nk); err != nil {
		r.Close()
		return nil, nil, err
	}
	return r, &Created{Account: cfg.Account, RecoveryKey: nk.RecoveryKey}, nil
}

// create writes the objects of a new account, the configuration last.
func (r *Repo) create(ctx context.Context, dev *keys.Device, nk *NewAccountKeys) error {
	cfgBytes, err := json.Marshal(r.cfg)
	if err != nil {
		return err
	}
	if err := r.WrapTo(ctx, dev.Public()); err != nil {
		return err
	}
	if err := r.WrapToRecovery(ctx, nk.RecoveryKey); err != nil {
		return err
	}
	if err := appendGenesis(ctx, store.ChainOf(r.st), nk.Genesis); err != nil {
		return err
	}
	return putBytes(ctx, r.st, store.Config, "config", cfgBytes)
}

// appendGenesis stores the genesis entry as entry 0 of the chain, unless
// the chain holds exactly it already.
func appendGenesis(ctx context.Context, c store.Chain, genesis []byte) error {
	err := c.AppendChain(ctx, 0, genesis)
	if !errors.Is(err, store.ErrConflict) {
		if err != nil {
			return fmt.Errorf("appending the genesis entry: %w", err)
		}
		return nil
	}
	have, err := c.ChainEntries(ctx, 0)
	if err != nil {
		return fmt.Errorf("reading the device chain: %w", err)
	}
	if len(have) == 0 || !bytes.Equal(have[0], genesis) {
		return fmt.Errorf("the store already holds another device chain: %w", store.ErrConflict)
	}
	return nil
}

// ReadConfig reads and checks the repository configuration: its canonical
// form, then its version, then the account ID (docs/format.md §9). The MAC
// can be checked only once the root key is unwrapped, so a store that
// alters the version makes this fail before anything authenticates it:
// denial of service, which the store can cause anyway by deleting it.
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
	if a, err := hex.DecodeString(cfg.Account); err != nil || len(a) != 16 || hex.EncodeToString(a) != cfg.Account {
		return cfg, fmt.Errorf("%w: malformed account ID (not 32 lower-case hex digits)", ErrNotRepo)
	}
	return cfg, nil
}

// Open opens the repository in st with the root key wrapped to dev. It
// trusts, on first use, the device chain the store holds, after verifying
// it; a caller that remembers an account's chain should extend what it
// remembers and call OpenChain, so that the store cannot roll the chain
// back (to before a device was removed, say).
func Open(ctx context.Context, st store.Store, dev *keys.Device) (*Repo, error) {
	cfg, err := ReadConfig(ctx, st)
	if err != nil {
		return nil, err
	}
	entries, err := store.ReadChain(ctx, store.ChainOf(st), 0)
	if err != nil {
		return nil, fmt.Errorf("reading the device chain: %w", err)
	}
	chain, err := devices.Verify(cfg.Account, entries)
	if err != nil {
		return nil, err
	}
	return openDevice(ctx, st, cfg, dev, chain)
}

// OpenChain opens the repository in st with the root key of chain's
// current epoch wrapped to dev, which must be a current device of chain.
// Every root key read, from the wrapped object and from the epoch's
// keyring, must have the commitment chain records for its epoch, or the
// error wraps ErrKeySubstituted.
func OpenChain(ctx context.Context, st store.Store, dev *keys.Device, chain *devices.Chain) (*Repo, error) {
	cfg, err := ReadConfig(ctx, st)
	if err != nil {
		return nil, err
	}
	return openDevice(ctx, st, cfg, dev, chain)
}

func openDevice(ctx context.Context, st store.Store, cfg Config, dev *keys.Device, chain *devices.Chain) (*Repo, error) {
	if _, ok := chain.Device(dev.ID); !ok {
		if seq, removed := chain.Removed(dev.ID); removed {
			return nil, fmt.Errorf("%w: device %s was removed from the account by chain entry %d", ErrNoDeviceKey, dev.ID, seq)
		}
		return nil, fmt.Errorf("%w: device %s is not in the account's device chain", ErrNoDeviceKey, dev.ID)
	}
	r, err := openEpochs(ctx, st, cfg, chain, dev, keys.DeviceObjectName)
	if err != nil {
		return nil, err
	}
	r.device = dev
	return r, nil
}

// OpenRecovery opens the repository in st with the root key of chain's
// current epoch wrapped to the recovery key rk, which must be the one
// chain records. The keys are checked as by OpenChain.
func OpenRecovery(ctx context.Context, st store.Store, rk *keys.RecoveryKey, chain *devices.Chain) (*Repo, error) {
	cfg, err := ReadConfig(ctx, st)
	if err != nil {
		return nil, err
	}
	rd, err := rk.Device()
	if err != nil {
		return nil, err
	}
	defer rd.Zero()
	if !bytes.Equal(rd.Public().Sign, chain.Recovery()) {
		return nil, ErrNotRecoveryKey
	}
	return openEpochs(ctx, st, cfg, chain, rd, keys.RecoveryObjectName)
}

// openEpochs unwraps, with d, the root key of chain's current epoch from
// the object name(commitment, d.ID), reads the older epochs' keys from its
// keyring, checks every key against the chain and the configuration's MAC.
func openEpochs(ctx context.Context, st store.Store, cfg Config, chain *devices.Chain, d *keys.Device, name func([32]byte, string) string) (*Repo, error) {
	if chain.Account() != cfg.Account {
		return nil, fmt.Errorf("%w: the configuration is for account %s, the device chain for %s", ErrNotRepo, cfg.Account, chain.Account())
	}
	e := chain.Epoch()
	if e >= keys.MaxEpochs {
		return nil, fmt.Errorf("root-key epoch %d: at most %d are supported", e, keys.MaxEpochs)
	}
	commit, _ := chain.Commitment(e)
	obj := name(commit, d.ID)
	wrapped, err := store.ReadAll(ctx, st, store.Keys, obj, keys.MaxObjectSize)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w (%s, epoch %d)", ErrNoDeviceKey, d.ID, e)
	}
	if err != nil {
		return nil, err
	}
	root, err := keys.UnwrapDevice(wrapped, cfg.Account, d)
	if err != nil {
		return nil, fmt.Errorf("keys/%s: %w", obj, err)
	}
	defer root.Zero()
	roots, err := readRoots(ctx, st, chain, root)
	if err != nil {
		return nil, err
	}
	r, err := newRepo(st, cfg, chain, roots)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(r.keys.ConfigMAC(cfg.macInput()), cfg.MAC) {
		r.Close()
		return nil, fmt.Errorf("%w: the configuration does not authenticate (altered by the store?)", ErrNotRepo)
	}
	return r, nil
}

// readRoots checks root, the key of chain's current epoch, and returns the
// keys of every epoch in order, read from the current epoch's keyring and
// checked against the chain too.
func readRoots(ctx context.Context, st store.Store, chain *devices.Chain, root *crypt.Key) ([]crypt.Key, error) {
	e := chain.Epoch()
	if err := checkRoot(chain, e, root); err != nil {
		return nil, err
	}
	if e == 0 {
		return []crypt.Key{*root}, nil
	}
	commit, _ := chain.Commitment(e)
	obj := keys.KeyringObjectName(commit)
	b, err := store.ReadAll(ctx, st, store.Keys, obj, keys.MaxKeyringSize)
	if err != nil {
		return nil, err
	}
	roots, err := keys.OpenKeyring(b, chain.Account(), e, root)
	if err != nil {
		return nil, fmt.Errorf("keys/%s: %w", obj, err)
	}
	for i := range roots {
		if err := checkRoot(chain, uint64(i), &roots[i]); err != nil {
			zeroAll(roots)
			return nil, fmt.Errorf("keys/%s: %w", obj, err)
		}
	}
	return append(roots, *root), nil
}

// checkRoot requires root's commitment to be the chain's for epoch e.
func checkRoot(chain *devices.Chain, e uint64, root *crypt.Key) error {
	if want, _ := chain.Commitment(e); devices.KeyCommitment(root) != want {
		return fmt.Errorf("root key of epoch %d: %w", e, ErrKeySubstituted)
	}
	return nil
}

func zeroAll(ks []crypt.Key) {
	for i := range ks {
		ks[i].Zero()
	}
}

// newRepo returns a Repo over roots, the root keys of epochs 0 to the
// current one, which it takes over: the blob ID key, the gear table and
// the configuration key come from epoch 0's, the data keys from each, and
// new data is sealed under the current epoch's.
func newRepo(st store.Store, cfg Config, chain *devices.Chain, roots []crypt.Key) (*Repo, error) {
	k, err := crypt.DeriveKeys(&roots[0])
	if err != nil {
		return nil, err
	}
	gear, err := crypt.GearTable(&k.Gear)
	if err != nil {
		return nil, err
	}
	data := make([]*crypt.Key, len(roots)) // newest first
	defer func() {
		for _, d := range data {
			if d != nil {
				d.Zero()
			}
		}
	}()
	for i := range roots {
		if data[len(roots)-1-i], err = dataKey(&roots[i]); err != nil {
			return nil, err
		}
	}
	sealer, err := crypt.NewSealer(data[0])
	if err != nil {
		return nil, err
	}
	r := &Repo{
		st: st, cfg: cfg, keys: k, sealer: sealer,
		opener: crypt.NewOpener(data...), hasher: crypt.NewHasher(&k.ID),
		gear: gear, Index: index.NewMaster(), chunker: chunker.DefaultParams,
		chain: chain, roots: roots, trees: newTreePacks(treePackMemory),
	}
	r.packer = newPacker(r)
	return r, nil
}

// dataKey derives the envelope master key of a root key.
func dataKey(root *crypt.Key) (*crypt.Key, error) {
	k, err := crypt.DeriveKeys(root)
	if err != nil {
		return nil, err
	}
	defer k.Zero()
	d := k.Data
	return &d, nil
}

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
	if r.sealer != nil {
		r.sealer.Zero()
	}
	if r.readOnly != nil {
		r.readOnly.Zero()
	}
	r.opener.Zero()
	r.keys.Zero()
	r.epochMu.Lock()
	defer r.epochMu.Unlock()
	zeroAll(r.roots)
}

func putBytes(ctx context.Context, st store.Store, kind store.Kind, name string, b []byte) error {
	if err := st.Put(ctx, kind, name, bytesReader(b), int64(len(b))); err != nil {
		return fmt.Errorf("writing %s/%s: %w", kind, name, err)
	}
	return nil
}

// Opener returns the envelope opener of the repository's data key.
func (r *Repo) Opener() *crypt.Opener { return r.opener }

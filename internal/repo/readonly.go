package repo

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"

	"github.com/coffer-backup/coffer/internal/chunker"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/store"
)

// ErrReadOnly is returned by every operation that would seal, store or
// wrap a key in a Repo opened with OpenRead.
var ErrReadOnly = errors.New("the repository is open for reading only")

// ReadKeys are the working keys that reading a repository needs, and
// nothing more (docs/format.md §2.1, docs/web.md): the envelope data key
// of each root-key epoch, epoch 0 first, the blob-ID key and the
// configuration key, all derived from the epochs' root keys. They hold no
// root key and no gear key, so whoever has them can decrypt and
// authenticate everything sealed in those epochs, but cannot seal data a
// device would accept as the account's, wrap a key, or derive keys of
// later epochs.
type ReadKeys struct {
	Data []crypt.Key
	ID   crypt.Key
	Conf crypt.Key
}

// Zero overwrites the keys.
func (k *ReadKeys) Zero() {
	zeroAll(k.Data)
	k.ID.Zero()
	k.Conf.Zero()
}

// ReadKeys returns the read keys of every epoch up to the current one, for
// a device granting read access (a browser session, docs/web.md). The
// caller zeroes them once sealed. A Repo opened by OpenRead returns a copy
// of its own.
func (r *Repo) ReadKeys() (*ReadKeys, error) {
	r.epochMu.Lock()
	defer r.epochMu.Unlock()
	if r.readOnly != nil {
		return r.readOnly.copy(), nil
	}
	rk := &ReadKeys{ID: r.keys.ID, Conf: r.keys.Conf}
	for i := range r.roots {
		d, err := dataKey(&r.roots[i])
		if err != nil {
			rk.Zero()
			return nil, err
		}
		rk.Data = append(rk.Data, *d)
		d.Zero()
	}
	return rk, nil
}

func (k *ReadKeys) copy() *ReadKeys {
	return &ReadKeys{Data: append([]crypt.Key(nil), k.Data...), ID: k.ID, Conf: k.Conf}
}

// OpenRead opens the repository in st for reading with rk, without a root
// key: blobs, trees, snapshots and index objects of the epochs rk covers
// authenticate and decrypt as in a Repo opened by a device; every write
// fails with ErrReadOnly. chain is the account's verified device chain; it
// decides, as for any reader, which snapshots and index objects count
// (docs/format.md §7.4, §8.4). The configuration must authenticate under
// rk.Conf and name chain's account (§9). OpenRead copies rk.
func OpenRead(ctx context.Context, st store.Store, chain *devices.Chain, rk *ReadKeys) (*Repo, error) {
	if len(rk.Data) == 0 || len(rk.Data) > keys.MaxEpochs {
		return nil, fmt.Errorf("read keys for %d epochs: want 1 to %d", len(rk.Data), keys.MaxEpochs)
	}
	cfg, err := ReadConfig(ctx, st)
	if err != nil {
		return nil, err
	}
	if chain.Account() != cfg.Account {
		return nil, fmt.Errorf("%w: the configuration is for account %s, the device chain for %s", ErrNotRepo, cfg.Account, chain.Account())
	}
	k := &crypt.Keys{ID: rk.ID, Conf: rk.Conf}
	if !hmac.Equal(k.ConfigMAC(cfg.macInput()), cfg.MAC) {
		k.Zero()
		return nil, fmt.Errorf("%w: the configuration does not authenticate under the read keys (altered by the store, or keys of another account?)", ErrNotRepo)
	}
	data := make([]*crypt.Key, len(rk.Data)) // newest first
	for i := range rk.Data {
		data[len(rk.Data)-1-i] = &rk.Data[i]
	}
	r := &Repo{
		st: st, cfg: cfg, keys: k, opener: crypt.NewOpener(data...), hasher: crypt.NewHasher(&k.ID),
		Index: index.NewMaster(), chunker: chunker.DefaultParams, chain: chain, readOnly: rk.copy(),
		trees: newTreePacks(treePackMemory),
	}
	r.packer = newPacker(r)
	return r, nil
}

// writable returns ErrReadOnly for a Repo opened by OpenRead.
func (r *Repo) writable() error {
	if r.sealer == nil {
		return ErrReadOnly
	}
	return nil
}

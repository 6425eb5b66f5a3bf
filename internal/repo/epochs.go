package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/store"
)

// Chain returns the device chain the repository was opened with, or
// moved to by PendingEpoch.Activate.
func (r *Repo) Chain() *devices.Chain {
	r.epochMu.Lock()
	defer r.epochMu.Unlock()
	return r.chain
}

// Epoch returns the root-key epoch new data is sealed in.
func (r *Repo) Epoch() uint64 { return r.Chain().Epoch() }

// current returns a copy of the current epoch's root key, with the chain
// and its commitment. The caller zeroes the copy.
func (r *Repo) current() (crypt.Key, *devices.Chain, [32]byte) {
	r.epochMu.Lock()
	defer r.epochMu.Unlock()
	commit, _ := r.chain.Commitment(r.chain.Epoch())
	return r.roots[len(r.roots)-1], r.chain, commit
}

// WrapTo writes the current epoch's root key wrapped to dev
// (docs/format.md §2.6), for a device joining the account: the epoch's
// keyring gives it the older epochs. The caller must have authenticated
// dev (by its fingerprint, or by pairing) and add it to the chain.
func (r *Repo) WrapTo(ctx context.Context, dev keys.DevicePublic) error {
	if err := r.writable(); err != nil {
		return err
	}
	root, _, commit := r.current()
	defer root.Zero()
	return r.putWrap(ctx, &root, keys.DeviceObjectName(commit, dev.ID), dev)
}

// WrapToRecovery writes the identity record of the recovery key rk and the
// current epoch's root key wrapped to it. It is for a recovery key about
// to be recorded by a rotate-recovery entry: write first, then append.
// Later epochs are wrapped to it by NewEpoch without the key at hand.
func (r *Repo) WrapToRecovery(ctx context.Context, rk *keys.RecoveryKey) error {
	if err := r.writable(); err != nil {
		return err
	}
	rd, err := rk.Device()
	if err != nil {
		return err
	}
	defer rd.Zero()
	pub := rd.Public()
	root, _, commit := r.current()
	defer root.Zero()
	if err := putBytes(ctx, r.st, store.Keys, keys.RecoveryIdentityObjectName(pub.ID), keys.MarshalIdentity(pub)); err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	return r.putWrap(ctx, &root, keys.RecoveryObjectName(commit, pub.ID), pub)
}

// putWrap writes root wrapped to p as keys/name.
func (r *Repo) putWrap(ctx context.Context, root *crypt.Key, name string, p keys.DevicePublic) error {
	b, err := keys.WrapToDevice(root, r.cfg.Account, p)
	if err != nil {
		return err
	}
	return putBytes(ctx, r.st, store.Keys, name, b)
}

// recoveryIdentity reads the identity record of chain's current recovery
// key and checks it against the chain.
func (r *Repo) recoveryIdentity(ctx context.Context, chain *devices.Chain) (keys.DevicePublic, error) {
	id := keys.DeviceID(chain.Recovery())
	name := keys.RecoveryIdentityObjectName(id)
	b, err := store.ReadAll(ctx, r.st, store.Keys, name, keys.MaxObjectSize)
	if err != nil {
		return keys.DevicePublic{}, fmt.Errorf("the recovery key's identity: %w", err)
	}
	p, err := keys.ParseIdentity(b)
	if err != nil {
		return keys.DevicePublic{}, fmt.Errorf("keys/%s: %w", name, err)
	}
	if !bytes.Equal(p.Sign, chain.Recovery()) {
		return keys.DevicePublic{}, fmt.Errorf("keys/%s is not the identity of the chain's recovery key: %w", name, ErrKeySubstituted)
	}
	return p, nil
}

// PendingEpoch is the next root-key epoch, its objects written to the
// store, waiting for the chain entry that records its commitment.
type PendingEpoch struct {
	r       *Repo
	base    *devices.Chain
	root    crypt.Key
	commit  [32]byte
	wrapped map[string]bool // DeviceIDs the root key is wrapped to
	done    bool            // activated or discarded
}

// NewEpoch starts root-key epoch e+1 on top of chain, the verified chain
// whose next entry will record it (a remove-device or rotate-key entry);
// chain must be at the repository's epoch e. It draws a root key and
// writes, before any entry refers to them (docs/format.md §2.6), the key
// wrapped to each of members, which must be current devices of chain, and
// to the chain's current recovery key (through its identity record: the
// recovery key itself is not needed), and the keyring of the older epochs.
// A device left out of members, such as the one being removed, can read
// nothing sealed in the new epoch.
//
// The caller builds the entry with Commitment, appends it, and calls
// Activate with the extended chain; if the append fails, Discard, and
// retry from a fresh chain (the new attempt's objects have other names).
func (r *Repo) NewEpoch(ctx context.Context, chain *devices.Chain, members []keys.DevicePublic) (*PendingEpoch, error) {
	if err := r.checkBase(chain); err != nil {
		return nil, err
	}
	recovery, err := r.recoveryIdentity(ctx, chain)
	if err != nil {
		return nil, err
	}
	p := &PendingEpoch{r: r, base: chain, wrapped: make(map[string]bool)}
	if _, err := rand.Read(p.root[:]); err != nil {
		return nil, fmt.Errorf("drawing root key: %w", err)
	}
	p.commit = devices.KeyCommitment(&p.root)
	if err := p.write(ctx, members, recovery); err != nil {
		p.Discard()
		return nil, err
	}
	return p, nil
}

// checkBase requires chain to be of the repository's account and epoch,
// with the same commitments, and to leave room for another epoch.
func (r *Repo) checkBase(chain *devices.Chain) error {
	if err := r.writable(); err != nil {
		return err
	}
	r.epochMu.Lock()
	defer r.epochMu.Unlock()
	e := r.chain.Epoch()
	if chain.Account() != r.chain.Account() || chain.Epoch() != e || chain.Len() < r.chain.Len() {
		return fmt.Errorf("a new epoch must build on the repository's chain (account %s, epoch %d, %d entries or more)", r.chain.Account(), e, r.chain.Len())
	}
	for i := range r.roots {
		if err := checkRoot(chain, uint64(i), &r.roots[i]); err != nil {
			return err
		}
	}
	if e+1 >= keys.MaxEpochs {
		return fmt.Errorf("the account has reached the limit of %d root-key epochs", keys.MaxEpochs)
	}
	return nil
}

// write writes the new epoch's keyring and wrapped keys.
func (p *PendingEpoch) write(ctx context.Context, members []keys.DevicePublic, recovery keys.DevicePublic) error {
	for _, m := range members {
		if _, ok := p.base.Device(m.ID); !ok {
			return fmt.Errorf("device %s is not a current device of the chain", m.ID)
		}
	}
	p.r.epochMu.Lock()
	ring, err := keys.SealKeyring(&p.root, p.r.cfg.Account, p.r.roots)
	p.r.epochMu.Unlock()
	if err != nil {
		return err
	}
	if err := putBytes(ctx, p.r.st, store.Keys, keys.KeyringObjectName(p.commit), ring); err != nil {
		return err
	}
	if err := p.r.putWrap(ctx, &p.root, keys.RecoveryObjectName(p.commit, recovery.ID), recovery); err != nil {
		return err
	}
	return p.wrapTo(ctx, members)
}

// wrapTo wraps the new root key to each of devs not yet wrapped to.
func (p *PendingEpoch) wrapTo(ctx context.Context, devs []keys.DevicePublic) error {
	for _, d := range devs {
		if p.wrapped[d.ID] {
			continue
		}
		if err := p.r.putWrap(ctx, &p.root, keys.DeviceObjectName(p.commit, d.ID), d); err != nil {
			return err
		}
		p.wrapped[d.ID] = true
	}
	return nil
}

// Commitment returns the commitment of the new root key, for the chain
// entry that starts the epoch.
func (p *PendingEpoch) Commitment() [32]byte { return p.commit }

// Activate moves the repository to the new epoch once chain, the chain
// NewEpoch was given extended by the one entry recording the epoch, is
// verified: from then on new data is sealed under the new root key, and
// Chain returns chain. The key is first wrapped to any current device of
// chain that NewEpoch was not given, so that no member is left without it.
func (p *PendingEpoch) Activate(ctx context.Context, chain *devices.Chain) error {
	if p.done {
		return errors.New("the epoch was already activated or discarded")
	}
	e := p.base.Epoch() + 1
	if c, ok := chain.Commitment(e); !ok || c != p.commit || chain.Epoch() != e ||
		chain.Len() != p.base.Len()+1 || chain.Account() != p.base.Account() {
		return fmt.Errorf("the chain does not start epoch %d with this key in the entry after %d", e, p.base.Len())
	}
	var members []keys.DevicePublic
	for _, m := range chain.Devices() {
		members = append(members, m.Public)
	}
	if err := p.wrapTo(ctx, members); err != nil {
		return err
	}
	data, err := dataKey(&p.root)
	if err != nil {
		return err
	}
	defer data.Zero()
	r := p.r
	r.epochMu.Lock()
	defer r.epochMu.Unlock()
	if err := r.sealer.Rekey(data); err != nil {
		return err
	}
	r.opener.Add(data)
	r.roots = append(r.roots, p.root)
	r.chain = chain
	p.Discard()
	return nil
}

// Discard forgets the new root key of an epoch that will not be activated.
// Its objects stay in the store, unreferenced.
func (p *PendingEpoch) Discard() {
	p.root.Zero()
	p.done = true
}

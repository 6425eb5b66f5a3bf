package repo

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/store"
)

// SaveIndex stores an index object, signed by this Repo's device
// (docs/format.md §7.2) so that other devices can tell who listed its
// copies.
func (r *Repo) SaveIndex(ctx context.Context, f *index.File) (blob.ID, error) {
	if r.device != nil {
		if err := f.Sign(r.cfg.Account, r.device.ID, r.device.Sign); err != nil {
			return blob.ID{}, err
		}
	}
	b := f.Encode()
	if _, err := index.Decode(b); err != nil {
		return blob.ID{}, fmt.Errorf("refusing to write an invalid index object: %w", err)
	}
	id, err := r.SaveObject(ctx, store.Index, crypt.ADIndex, b)
	if err != nil {
		return blob.ID{}, fmt.Errorf("writing index: %w", err)
	}
	return id, nil
}

// trusts reports whether a writer may rely on the copies f lists without
// reading them (docs/format.md §7.4): f must be signed by this device, or
// by a current device of the chain with full rights. An append-only
// device's index objects, a removed device's, and unsigned ones are read
// (their copies are tried like any other) but never deduplicated against.
func (r *Repo) trusts(f *index.File) bool {
	if r.device == nil || f.Signer == "" {
		return false
	}
	if f.Signer == r.device.ID {
		return f.VerifyRead(r.cfg.Account, r.device.Sign.Public().(ed25519.PublicKey))
	}
	r.epochMu.Lock()
	m, ok := r.chain.Device(f.Signer)
	r.epochMu.Unlock()
	return ok && m.Rights == devices.Full && f.VerifyRead(r.cfg.Account, m.Public.Sign)
}

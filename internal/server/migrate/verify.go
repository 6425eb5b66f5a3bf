package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"golang.org/x/mod/sumdb/note"
	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/tlog"
)

// ErrMismatch means the copy differs from the old server.
var ErrMismatch = errors.New("the copy differs from the old server")

// verify checks the copy: every account's objects (count and bytes) in
// the bucket equal the old server's and the new database's usage, chain
// heads and names equal, the checkpoint is byte-identical and signed by
// the log key, and the log's root recomputed from its leaves and from
// its stored hashes is the checkpoint's. With ReadData every
// content-named object's SHA-256 is its name.
// d is the old database's rows.
func (m *migration) verify(ctx context.Context, srcDB meta.DB, d *meta.Dump, vkey string) error {
	for _, check := range []func() error{
		func() error { return m.verifyObjects(ctx) },
		func() error { return m.verifyChains(ctx, srcDB, d) },
		func() error { return m.verifyLog(ctx, srcDB, vkey) },
	} {
		if err := check(); err != nil {
			return fmt.Errorf("verifying the copy: %w", err)
		}
	}
	return nil
}

// verifyObjects compares every account's objects in the old store, the
// bucket and the new database's usage.
func (m *migration) verifyObjects(ctx context.Context) error {
	usage, err := m.dstDB.Usage(ctx)
	if err != nil {
		return err
	}
	accts, err := m.accounts()
	if err != nil {
		return err
	}
	return eachAccount(ctx, accts, func(ctx context.Context, a string) error {
		if err := m.verifyAccount(ctx, a, usage[a]); err != nil {
			return fmt.Errorf("account %s: %w", a, err)
		}
		return nil
	})
}

// verifyAccount compares one account's objects.
func (m *migration) verifyAccount(ctx context.Context, account string, want meta.Usage) error {
	from, to, err := m.stores(account)
	if err != nil {
		return err
	}
	old, err := usageOf(ctx, from, nil)
	if err != nil {
		return err
	}
	check := func(store.Kind, string) error { return nil }
	if m.cfg.ReadData {
		check = func(k store.Kind, name string) error { return m.checkHash(ctx, to, k, name) }
	}
	got, err := usageOf(ctx, to, check)
	if err != nil {
		return err
	}
	if got != old || got != want {
		return fmt.Errorf("%d objects of %d bytes in the bucket, %d of %d in the old server, %d of %d in the database: %w",
			got.Objects, got.Bytes, old.Objects, old.Bytes, want.Objects, want.Bytes, ErrMismatch)
	}
	return nil
}

// usageOf counts a store's objects, calling check on each if not nil.
func usageOf(ctx context.Context, st store.Store, check func(store.Kind, string) error) (meta.Usage, error) {
	var u meta.Usage
	for _, kind := range store.Kinds {
		err := st.List(ctx, kind, func(o store.ObjectInfo) error {
			u.Objects++
			u.Bytes += o.Size
			if check != nil {
				return check(kind, o.Name)
			}
			return nil
		})
		if err != nil {
			return u, fmt.Errorf("listing %s: %w", kind, err)
		}
	}
	return u, nil
}

// contentNamed are the kinds whose objects are named by the SHA-256 of
// their bytes.
var contentNamed = map[store.Kind]bool{store.Packs: true, store.Index: true, store.Snapshots: true}

// checkHash reads a content-named object and checks its SHA-256.
func (m *migration) checkHash(ctx context.Context, st store.Store, kind store.Kind, name string) error {
	if !contentNamed[kind] {
		return nil
	}
	r, err := st.Get(ctx, kind, name, 0, -1)
	if err != nil {
		return err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return fmt.Errorf("reading %s/%s: %w", kind, name, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != name {
		return fmt.Errorf("%s/%s: SHA-256 is not its name: %w", kind, name, ErrMismatch)
	}
	m.count(func(r *Report) { r.ReadObjects++ })
	return nil
}

// verifyChains compares every account's chain head and every name; d is
// the old database's rows.
func (m *migration) verifyChains(ctx context.Context, srcDB meta.DB, d *meta.Dump) error {
	var accts []string
	for _, row := range d.Rows("accounts") {
		accts = append(accts, row[0].(string))
	}
	err := eachAccount(ctx, accts, func(ctx context.Context, a string) error {
		return m.sameHead(ctx, srcDB, a)
	})
	if err != nil {
		return err
	}
	for _, row := range d.Rows("names") {
		acct, idx, err := m.dstDB.Name(ctx, row[0].(string))
		if err != nil || acct != row[1] || int64(idx) != row[2] {
			return fmt.Errorf("name %s: %s at %d (%v): %w", row[0], acct, idx, err, ErrMismatch)
		}
	}
	return nil
}

// sameHead compares an account's chain head in both databases.
func (m *migration) sameHead(ctx context.Context, srcDB meta.DB, account string) error {
	n1, h1, err1 := srcDB.ChainHead(ctx, account)
	n2, h2, err2 := m.dstDB.ChainHead(ctx, account)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("chain of account %s: %w", account, err)
	}
	if n1 != n2 || h1 != h2 {
		return fmt.Errorf("chain of account %s: %d entries, %d in the old server: %w", account, n2, n1, ErrMismatch)
	}
	return nil
}

// verifyLog checks the new database's checkpoint against the old one and
// the log key, and its root against the log.
func (m *migration) verifyLog(ctx context.Context, srcDB meta.DB, vkey string) error {
	_, oldNote, err := srcDB.Checkpoint(ctx)
	if errors.Is(err, meta.ErrNotFound) {
		return nil // an old server that never published has no log to check
	}
	if err != nil {
		return err
	}
	_, newNote, err := m.dstDB.Checkpoint(ctx)
	if err != nil {
		return err
	}
	if !bytes.Equal(oldNote, newNote) {
		return fmt.Errorf("the checkpoint is not byte-identical: %w", ErrMismatch)
	}
	c, err := openCheckpoint(newNote, vkey)
	if err != nil {
		return err
	}
	m.report.Checkpoint = c.Size
	m.report.LogSize, err = m.dstDB.LogSize(ctx)
	if err != nil {
		return err
	}
	return m.checkRoot(ctx, c)
}

// openCheckpoint verifies a checkpoint's signature by the log key and
// parses it.
func openCheckpoint(signed []byte, vkey string) (tlog.Checkpoint, error) {
	v, err := tlog.NewLogVerifier(vkey)
	if err != nil {
		return tlog.Checkpoint{}, err
	}
	if _, err := note.Open(signed, note.VerifierList(v)); err != nil {
		return tlog.Checkpoint{}, fmt.Errorf("the checkpoint's signature: %w", err)
	}
	return tlog.ParseUnverified(signed)
}

// rootBatch is how many leaves checkRoot reads at a time.
const rootBatch = 1000

// checkRoot recomputes the tree hash of the checkpoint's size from the
// log's leaves and from its stored hashes (those its tiles are made of),
// and compares both with the checkpoint's root.
func (m *migration) checkRoot(ctx context.Context, c tlog.Checkpoint) error {
	var mem memHashes
	for start := uint64(0); start < c.Size; start += rootBatch {
		leaves, err := m.dstDB.LogLeaves(ctx, start, int(min(rootBatch, c.Size-start)))
		if err != nil {
			return err
		}
		for i, leaf := range leaves {
			hs, err := xtlog.StoredHashes(int64(start)+int64(i), leaf, mem)
			if err != nil {
				return err
			}
			mem = append(mem, hs...)
		}
	}
	fromLeaves, err := xtlog.TreeHash(int64(c.Size), mem)
	if err != nil {
		return err
	}
	stored, err := xtlog.TreeHash(int64(c.Size), dbHashes{ctx, m.dstDB})
	if err != nil {
		return err
	}
	if fromLeaves != c.Root || stored != c.Root {
		return fmt.Errorf("the log's root is not the checkpoint's: %w", ErrMismatch)
	}
	return nil
}

// memHashes is stored hashes in memory, by storage index.
type memHashes []tlog.Hash

// ReadHashes returns the hashes at indexes.
func (m memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x >= int64(len(m)) {
			return nil, fmt.Errorf("stored hash %d not computed", x)
		}
		out[i] = m[x]
	}
	return out, nil
}

// dbHashes reads the database's stored hashes.
type dbHashes struct {
	ctx context.Context
	db  meta.DB
}

// ReadHashes returns the stored hashes at indexes.
func (d dbHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return d.db.LogHashes(d.ctx, indexes)
}

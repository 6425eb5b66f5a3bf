package objects

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/store"
)

// Cataloged is a Backend whose objects are recorded in a catalog in the
// metadata database (meta.Catalog), which is authoritative: an object
// exists when its row is stored, whatever keys the wrapped backend holds.
// Every upload goes to a new unique key (the name, '.', 32 random hex
// digits), reserved in the catalog before it is written and stored after,
// so a crash leaves only keys recorded in reserved or deleting rows, which
// Sweep removes. Listings are pages of the catalog, in name order, and a
// delete is decided by one transaction.
type Cataloged struct {
	inner Backend
	cat   meta.Catalog
	now   func() time.Time
}

var _ Backend = (*Cataloged)(nil)

// NewCataloged wraps inner with the catalog cat.
func NewCataloged(inner Backend, cat meta.Catalog) *Cataloged {
	return &Cataloged{inner: inner, cat: cat, now: time.Now}
}

// Create refuses an account that has rows in the catalog or keys in the
// wrapped backend, and returns its store.
func (c *Cataloged) Create(ctx context.Context, account string) (store.Store, error) {
	if err := checkAccount(account); err != nil {
		return nil, err
	}
	if has, err := c.cat.HasObjects(ctx, account); err != nil || has {
		return nil, fmt.Errorf("creating the objects of account %s: the catalog has objects of it (%w)", account, err)
	}
	st, err := c.inner.Create(ctx, account)
	if err != nil {
		return nil, err
	}
	return c.wrap(account, st), nil
}

// Account returns the account's store without a request.
func (c *Cataloged) Account(account string) (store.Store, error) {
	st, err := c.inner.Account(account)
	if err != nil {
		return nil, err
	}
	return c.wrap(account, st), nil
}

func (c *Cataloged) wrap(account string, st store.Store) *catalogStore {
	return &catalogStore{account: account, inner: st, cat: c.cat, now: c.now}
}

// Remove decides the removal of every object of the account in the
// catalog, removes its keys, then its rows.
func (c *Cataloged) Remove(ctx context.Context, account string) error {
	if err := checkAccount(account); err != nil {
		return err
	}
	if err := c.cat.DoomAccount(ctx, account, c.now()); err != nil {
		return fmt.Errorf("removing the objects of account %s: %w", account, err)
	}
	if err := c.inner.Remove(ctx, account); err != nil {
		return err
	}
	if err := c.cat.ForgetAccount(ctx, account); err != nil {
		return fmt.Errorf("removing the objects of account %s: %w", account, err)
	}
	return nil
}

// Ping checks the wrapped backend (the server pings the database).
func (c *Cataloged) Ping(ctx context.Context) error { return c.inner.Ping(ctx) }

// Close closes the wrapped backend.
func (c *Cataloged) Close() error { return c.inner.Close() }

// sweepPage is how many dead rows Sweep handles per query.
const sweepPage = 1000

// Sweep removes the keys of dead rows — deleting ones, and reserved ones
// older than maxUpload — and then the rows, and returns how many it
// removed. A live upload older than maxUpload loses its key and fails.
func (c *Cataloged) Sweep(ctx context.Context, maxUpload time.Duration) (int, error) {
	n := 0
	for {
		dead, err := c.cat.DeadObjects(ctx, c.now().Add(-maxUpload), sweepPage)
		if err != nil || len(dead) == 0 {
			return n, err
		}
		for _, o := range dead {
			if err := c.sweep(ctx, o); err != nil {
				return n, err
			}
			n++
		}
	}
}

// sweep removes one dead row's key, then the row.
func (c *Cataloged) sweep(ctx context.Context, o meta.CatalogObject) error {
	st, err := c.inner.Account(o.Account)
	if err != nil {
		return err
	}
	if err := st.Delete(ctx, store.Kind(o.Kind), o.Key); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("sweeping %s/%s: %w", o.Kind, o.Key, err)
	}
	return c.cat.ForgetObject(ctx, o.Key)
}

// creatorKey is the context key of the principal uploading an object.
type creatorKey struct{}

// WithCreator returns ctx carrying the ID of the principal that uploads,
// which Cataloged records with the object.
func WithCreator(ctx context.Context, device string) context.Context {
	return context.WithValue(ctx, creatorKey{}, device)
}

// creator returns the principal WithCreator put in ctx, or "".
func creator(ctx context.Context) string {
	d, _ := ctx.Value(creatorKey{}).(string)
	return d
}

// catalogStore is one account's objects in a Cataloged backend.
type catalogStore struct {
	account string
	inner   store.Store
	cat     meta.Catalog
	now     func() time.Time
}

// uniqueKey returns a new key for an upload of name: the name (cut to
// keep the key a valid object name), '.', 32 random hex digits.
func uniqueKey(name string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails
	return name[:min(len(name), 95)] + "." + hex.EncodeToString(b[:])
}

// Put reserves a unique key, writes it exclusively, and stores the row;
// of racing uploads of one name the first stored wins and the others
// fail with store.ErrExists, their keys removed.
func (s *catalogStore) Put(ctx context.Context, kind store.Kind, name string, r io.Reader, size int64) error {
	if err := store.CheckName(kind, name); err != nil {
		return err
	}
	o := meta.CatalogObject{Account: s.account, Kind: string(kind), Name: name, Key: uniqueKey(name), Size: size, Creator: creator(ctx), At: s.now()}
	if err := s.cat.ReserveObject(ctx, o); err != nil {
		return catalogErr("put", kind, name, err)
	}
	err := s.inner.Put(ctx, kind, o.Key, r, size)
	if err == nil {
		err = s.cat.CommitObject(ctx, o.Key)
	}
	if err != nil {
		s.drop(kind, o.Key)
		return catalogErr("put", kind, name, err)
	}
	return nil
}

// drop removes a failed upload's key and row; if it cannot, the row
// stays reserved and Sweep removes both later.
func (s *catalogStore) drop(kind store.Kind, key string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.inner.Delete(ctx, kind, key); err == nil || errors.Is(err, store.ErrNotFound) {
		_ = s.cat.ForgetObject(ctx, key) // else swept later
	}
}

// catalogErr wraps err, turning the catalog's errors into the store's.
func catalogErr(op string, kind store.Kind, name string, err error) error {
	switch {
	case errors.Is(err, meta.ErrExists):
		err = fmt.Errorf("%w (%w)", store.ErrExists, err)
	case errors.Is(err, meta.ErrNotFound):
		err = fmt.Errorf("%w (%w)", store.ErrNotFound, err)
	}
	return fmt.Errorf("%s %s/%s: %w", op, kind, name, err)
}

// Get reads the stored object's key.
func (s *catalogStore) Get(ctx context.Context, kind store.Kind, name string, offset, length int64) (io.ReadCloser, error) {
	o, err := s.lookup(ctx, kind, name)
	if err != nil {
		return nil, catalogErr("get", kind, name, err)
	}
	return s.inner.Get(ctx, kind, o.Key, offset, length)
}

// lookup returns the stored row of a valid kind and name.
func (s *catalogStore) lookup(ctx context.Context, kind store.Kind, name string) (meta.CatalogObject, error) {
	if err := store.CheckName(kind, name); err != nil {
		return meta.CatalogObject{}, err
	}
	return s.cat.LookupObject(ctx, s.account, string(kind), name)
}

// Stat answers from the catalog alone.
func (s *catalogStore) Stat(ctx context.Context, kind store.Kind, name string) (store.ObjectInfo, error) {
	o, err := s.lookup(ctx, kind, name)
	if err != nil {
		return store.ObjectInfo{}, catalogErr("stat", kind, name, err)
	}
	return store.ObjectInfo{Name: o.Name, Size: o.Size}, nil
}

// listPage is how many objects one query of List reads.
const listPage = 1000

// List pages through the catalog's stored objects of the kind in name
// order; each page is consistent, and an object stored or deleted during
// the listing is listed or not, never twice.
func (s *catalogStore) List(ctx context.Context, kind store.Kind, fn func(store.ObjectInfo) error) error {
	if !kind.Valid() {
		return fmt.Errorf("list: unknown object kind %q", kind)
	}
	after := ""
	for {
		page, err := s.cat.ListObjects(ctx, s.account, string(kind), after, listPage)
		if err != nil {
			return fmt.Errorf("list %s: %w", kind, err)
		}
		for _, o := range page {
			if err := fn(store.ObjectInfo{Name: o.Name, Size: o.Size}); err != nil {
				return err
			}
		}
		if len(page) < listPage {
			return nil
		}
		after = page[len(page)-1].Name
	}
}

// Delete decides the delete in one transaction, then removes the key and
// the row; after a crash between the two, Sweep does.
func (s *catalogStore) Delete(ctx context.Context, kind store.Kind, name string) error {
	if err := store.CheckName(kind, name); err != nil {
		return err
	}
	o, err := s.cat.DoomObject(ctx, s.account, string(kind), name, s.now())
	if err != nil {
		return catalogErr("delete", kind, name, err)
	}
	if err := s.inner.Delete(ctx, kind, o.Key); err == nil || errors.Is(err, store.ErrNotFound) {
		_ = s.cat.ForgetObject(ctx, o.Key) // if it fails, Sweep forgets the row
	}
	return nil // decided: a key left behind is swept
}

// Close closes the wrapped store.
func (s *catalogStore) Close() error { return s.inner.Close() }

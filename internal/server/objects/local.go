package objects

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
)

// Local is a Backend in a directory: each account is a local store in
// DIR/<account>. It caches opened stores, which hold nothing another
// process needs, so several processes on one machine may share DIR.
type Local struct {
	dir    string
	stores sync.Map // account ID → *local.Store
}

var _ Backend = (*Local)(nil)

// NewLocal returns the backend in dir, creating dir (mode 0700) if needed.
func NewLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("objects directory: %w", err)
	}
	return &Local{dir: dir}, nil
}

// Dir returns the directory of an account's store; account must be valid.
func (l *Local) Dir(account string) string { return filepath.Join(l.dir, account) }

// Create makes the account's store, refusing a directory that exists and
// is not empty (local.Create).
func (l *Local) Create(_ context.Context, account string) (store.Store, error) {
	if err := checkAccount(account); err != nil {
		return nil, err
	}
	st, err := local.Create(l.Dir(account))
	if err != nil {
		return nil, err
	}
	l.stores.Store(account, st)
	return st, nil
}

// Account opens the account's store on first use.
func (l *Local) Account(account string) (store.Store, error) {
	if err := checkAccount(account); err != nil {
		return nil, err
	}
	if st, ok := l.stores.Load(account); ok {
		return st.(*local.Store), nil
	}
	st, err := local.Open(l.Dir(account))
	if err != nil {
		return nil, err
	}
	v, _ := l.stores.LoadOrStore(account, st)
	return v.(*local.Store), nil
}

// Remove deletes the account's directory.
func (l *Local) Remove(_ context.Context, account string) error {
	if err := checkAccount(account); err != nil {
		return err
	}
	l.stores.Delete(account)
	return os.RemoveAll(l.Dir(account))
}

// Ping checks that the directory is there.
func (l *Local) Ping(context.Context) error {
	fi, err := os.Stat(l.dir)
	if err == nil && !fi.IsDir() {
		err = errors.New("not a directory")
	}
	if err != nil {
		return fmt.Errorf("objects directory %s: %w", l.dir, err)
	}
	return nil
}

// Close releases nothing: local stores hold no resources between calls.
func (l *Local) Close() error { return nil }

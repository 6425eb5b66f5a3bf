// Package open turns a store location given by the user into a
// store.Store: a local directory (a path, or a file:// URL) or a Coffer
// server (an https:// URL, or http:// to a loopback host). Everything above
// it sees only store.Store.
package open

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
	"github.com/coffer-backup/coffer/internal/store/remote"
)

// Options are what a server needs to know who is calling: the account and
// the unlocked device. A local store needs none of it.
type Options = remote.Options

// ErrNoAccount means a server store was given without an account ID.
var ErrNoAccount = errors.New("no account ID is known for this store")

// Open opens an existing store.
func Open(location string, o Options) (store.Store, error) {
	if IsRemote(location) {
		if o.Account == "" {
			return nil, fmt.Errorf("store %s: %w", location, ErrNoAccount)
		}
		return remote.Open(location, o)
	}
	path, err := localPath(location)
	if err != nil {
		return nil, err
	}
	return local.Open(path)
}

// Create creates a new, empty store: a new directory, or a new account
// registered on a server with o.Device as its first device.
func Create(ctx context.Context, location string, o Options) (store.Store, error) {
	if IsRemote(location) {
		return remote.Create(ctx, location, o)
	}
	path, err := localPath(location)
	if err != nil {
		return nil, err
	}
	return local.Create(path)
}

// IsRemote reports whether location names a server rather than a directory.
func IsRemote(location string) bool {
	scheme, _, ok := strings.Cut(location, "://")
	return ok && (strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "http"))
}

// Canonical returns the form of location to remember it by: an absolute
// path for a directory, the normalised URL (with its pin) for a server.
func Canonical(location string) (string, error) {
	if IsRemote(location) {
		return remote.Canonical(location)
	}
	path, err := localPath(location)
	if err != nil {
		return "", err
	}
	return filepath.Abs(path)
}

func localPath(location string) (string, error) {
	if location == "" {
		return "", fmt.Errorf("no store given: use --store or set COFFER_STORE")
	}
	if strings.Contains(location, "://") {
		if p, ok := strings.CutPrefix(location, "file://"); ok {
			return p, nil
		}
		return "", fmt.Errorf("store %q: a store is a directory, a file:// URL, or a server's https:// URL", location)
	}
	return location, nil
}

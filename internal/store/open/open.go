// Package open turns a store location given by the user into a
// store.Store: a local directory today, a server URL later.
package open

import (
	"fmt"
	"strings"

	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
)

// Open opens an existing store.
func Open(location string) (store.Store, error) {
	path, err := localPath(location)
	if err != nil {
		return nil, err
	}
	return local.Open(path)
}

// Create creates a new, empty store.
func Create(location string) (store.Store, error) {
	path, err := localPath(location)
	if err != nil {
		return nil, err
	}
	return local.Create(path)
}

func localPath(location string) (string, error) {
	if location == "" {
		return "", fmt.Errorf("no store given: use --store or set COFFER_STORE")
	}
	if strings.Contains(location, "://") {
		if p, ok := strings.CutPrefix(location, "file://"); ok {
			return p, nil
		}
		return "", fmt.Errorf("store %q: only local directories are supported by this version", location)
	}
	return location, nil
}

package migrate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/coffer-backup/coffer/internal/atomicfile"
	"github.com/coffer-backup/coffer/internal/server"
)

// copyLogKey writes DATA/log.key to cfg.LogKeyFile (mode 0600) if that
// file is missing, or checks that it holds the same key, and returns the
// key's verifier key. The new servers must sign with the old key, or
// every client would refuse their checkpoints.
func copyLogKey(cfg Config) (string, error) {
	old := filepath.Join(cfg.Data, "log.key")
	vkey, err := server.LogVerifierKey(old)
	if err != nil {
		return "", err
	}
	have, err := server.LogVerifierKey(cfg.LogKeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return vkey, writeKey(old, cfg.LogKeyFile)
	}
	if err != nil {
		return "", err
	}
	if have != vkey {
		return "", fmt.Errorf("log key %s is not the key of %s (%s): the new servers must sign with the old key", cfg.LogKeyFile, old, vkey)
	}
	return vkey, nil
}

// writeKey copies the key file from to the new file to, mode 0600.
func writeKey(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("log key %s: %w", from, err)
	}
	defer clear(b)
	if err := atomicfile.Create(to, b, 0o600); err != nil {
		return fmt.Errorf("log key %s: %w", to, err)
	}
	return nil
}

package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coffer-backup/coffer/internal/filelock"
)

// dataLockFile is the file in the data directory whose flock(2) tells
// whether a server uses the directory: every coffer serve holds a shared
// lock on it while it runs, coffer serve migrate an exclusive one.
const dataLockFile = "serve.lock"

// ErrDataInUse means a server runs on the data directory.
var ErrDataInUse = errors.New("a coffer serve process is using the data directory")

// LockData takes a flock on DATA/serve.lock, made if missing, without
// waiting: a shared one (exclusive false), as every server holds while it
// runs, or an exclusive one, which no server can hold at the same time.
// It fails with ErrDataInUse if the lock is held the other way, and
// returns the function that releases it.
func LockData(dir string, exclusive bool) (unlock func(), err error) {
	path := filepath.Join(dir, dataLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	if err := filelock.TryLock(f, exclusive); err != nil {
		f.Close()
		if errors.Is(err, filelock.ErrLocked) {
			return nil, fmt.Errorf("%s: %w", path, ErrDataInUse)
		}
		return nil, fmt.Errorf("data directory lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}

// LogVerifierKey returns the verifier key of the log signing key in the
// file at path (the format of DATA/log.key). Its errors never contain
// the key.
func LogVerifierKey(path string) (string, error) {
	skey, err := readSmall(path)
	if err != nil {
		return "", fmt.Errorf("log key %s: %w", path, err)
	}
	k, err := parseLogKey(skey)
	if err != nil {
		return "", fmt.Errorf("log key %s: %w", path, err)
	}
	return k.vkey, nil
}

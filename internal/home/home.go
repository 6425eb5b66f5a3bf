// Package home manages this device's Coffer home directory: its passphrase-
// protected device keystore, the store it uses by default, and the account
// it uses in each store. Nothing in it is shared with any store.
package home

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/coffer-backup/coffer/internal/atomicfile"
	"os"
	"path/filepath"
	"slices"

	"github.com/coffer-backup/coffer/internal/keys"
)

// Home is a Coffer home directory.
type Home struct {
	Dir string
}

// Settings are this device's remembered choices.
type Settings struct {
	DefaultStore string `json:"default_store,omitempty"`
	// Accounts maps a store location to the account this device uses
	// there. A server stores many accounts and must be told which.
	Accounts map[string]string `json:"accounts,omitempty"`
	// Logs maps a server store location to the transparency-log policy
	// this device applies to it (docs/transparency.md).
	Logs map[string]LogPolicy `json:"logs,omitempty"`
	// S3Endpoints maps an s3:// store location to the URL of the
	// S3-compatible service that holds it, as given when this device
	// first used it (--s3-endpoint), so later commands need no flag. A
	// store on AWS has none.
	S3Endpoints map[string]string `json:"s3_endpoints,omitempty"`
}

// LogPolicy is what a device requires of a server's transparency log.
type LogPolicy struct {
	// Key is the log's note verifier key: given by the user, or pinned
	// the first time the device used the server.
	Key string `json:"key"`
	// Witnesses are the cosigner verifier keys of the witnesses the user
	// chose; Threshold of them must cosign every checkpoint.
	Witnesses []string `json:"witnesses,omitempty"`
	Threshold int      `json:"threshold"`
	// Names are the account names this device registered, which it
	// watches in the log.
	Names []string `json:"names,omitempty"`
}

// ErrLogKeyChanged means a log key was given for a server whose log this
// device already trusts under another key.
var ErrLogKeyChanged = errors.New("this device already trusts another log key for this server")

// PinLog records the transparency-log policy this device requires of the
// server at loc, never weakening one it holds: a pinned key stays (another
// key given is refused with ErrLogKeyChanged), witnesses and names only
// add up, and the threshold never drops. key is the key the user gave, or
// "" for the one stated returns, asked only when nothing is pinned yet.
// threshold 0 with witnesses given means all of them. It saves nothing.
func (s *Settings) PinLog(loc, key string, stated func() (string, error), witnesses []string, threshold int, names []string) (LogPolicy, error) {
	old, pinned := s.Logs[loc]
	switch {
	case pinned && key != "" && key != old.Key:
		return LogPolicy{}, ErrLogKeyChanged
	case pinned:
		key = old.Key
	case key == "":
		var err error
		if key, err = stated(); err != nil {
			return LogPolicy{}, err
		}
	}
	p := LogPolicy{Key: key, Witnesses: union(old.Witnesses, witnesses), Names: union(old.Names, names)}
	p.Threshold = max(old.Threshold, threshold)
	if threshold == 0 && len(witnesses) > 0 {
		p.Threshold = len(p.Witnesses)
	}
	if s.Logs == nil {
		s.Logs = map[string]LogPolicy{}
	}
	s.Logs[loc] = p
	return p, nil
}

// union returns a followed by the elements of b not in a.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// Remember makes location the default store and records its account.
func (s *Settings) Remember(location, account string) {
	s.DefaultStore = location
	if s.Accounts == nil {
		s.Accounts = map[string]string{}
	}
	s.Accounts[location] = account
}

// RememberEndpoint records that the S3 store at location lives on the
// service at endpoint; an empty endpoint records nothing.
func (s *Settings) RememberEndpoint(location, endpoint string) {
	if endpoint == "" {
		return
	}
	if s.S3Endpoints == nil {
		s.S3Endpoints = map[string]string{}
	}
	s.S3Endpoints[location] = endpoint
}

// Locate returns the home named by COFFER_HOME, else
// $XDG_CONFIG_HOME/coffer, else ~/.config/coffer.
func Locate() (*Home, error) {
	if d := os.Getenv("COFFER_HOME"); d != "" {
		return &Home{Dir: d}, nil
	}
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return &Home{Dir: filepath.Join(d, "coffer")}, nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return nil, fmt.Errorf("cannot find a home directory; set COFFER_HOME: %w", err)
	}
	return &Home{Dir: filepath.Join(h, ".config", "coffer")}, nil
}

// CacheDir returns the directory of the local cache of the store whose
// canonical location is loc (docs/format.md §12): under $COFFER_HOME/cache
// if COFFER_HOME is set, else $XDG_CACHE_HOME/coffer, else
// ~/.cache/coffer, the subdirectory named by the first 32 hex digits of
// the SHA-256 of loc.
func CacheDir(loc string) (string, error) {
	sum := sha256.Sum256([]byte(loc))
	id := hex.EncodeToString(sum[:16])
	if d := os.Getenv("COFFER_HOME"); d != "" {
		return filepath.Join(d, "cache", id), nil
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "coffer", id), nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find a cache directory; set COFFER_HOME or XDG_CACHE_HOME: %w", err)
	}
	return filepath.Join(h, ".cache", "coffer", id), nil
}

// KeystorePath is where the device keystore lives.
func (h *Home) KeystorePath() string { return filepath.Join(h.Dir, "device.key") }

func (h *Home) settingsPath() string { return filepath.Join(h.Dir, "settings.json") }

// HasDevice reports whether this home already holds a device keystore.
func (h *Home) HasDevice() bool {
	_, err := os.Stat(h.KeystorePath())
	return err == nil
}

// ErrNoDevice means the home has no device keystore yet.
var ErrNoDevice = errors.New("this device has no Coffer keys yet")

// LoadDevice unlocks the device keystore.
func (h *Home) LoadDevice(passphrase []byte) (*keys.Device, error) {
	if !h.HasDevice() {
		return nil, fmt.Errorf("%w (looked in %s)", ErrNoDevice, h.Dir)
	}
	return keys.Load(h.KeystorePath(), passphrase)
}

// ReplacePassphrase seals the device keystore again under passphrase,
// atomically replacing the file: the old passphrase opens it no more.
func (h *Home) ReplacePassphrase(d *keys.Device, passphrase []byte) error {
	return keys.Replace(h.KeystorePath(), d, passphrase, keys.DefaultKDFParams())
}

// CreateDevice makes a new device identity and saves it under passphrase.
func (h *Home) CreateDevice(name string, passphrase []byte) (*keys.Device, error) {
	if err := os.MkdirAll(h.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", h.Dir, err)
	}
	d, err := keys.NewDevice(name)
	if err != nil {
		return nil, err
	}
	if err := keys.Save(h.KeystorePath(), d, passphrase, keys.DefaultKDFParams()); err != nil {
		d.Zero()
		return nil, err
	}
	return d, nil
}

// Settings reads the remembered settings; a missing file yields defaults.
func (h *Home) Settings() (Settings, error) {
	var s Settings
	b, err := os.ReadFile(h.settingsPath())
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", h.settingsPath(), err)
	}
	return s, nil
}

// SaveSettings writes the settings atomically.
func (h *Home) SaveSettings(s Settings) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(h.Dir, 0o700); err != nil {
		return err
	}
	return atomicfile.Write(h.settingsPath(), append(b, '\n'), 0o600)
}

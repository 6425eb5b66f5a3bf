package transparency

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/coffer-backup/coffer/internal/atomicfile"
	"github.com/coffer-backup/coffer/internal/tlog"
)

// stateVersion is the version of the state file (docs/transparency.md
// §T.5.4).
const stateVersion = 1

// MaxStateFile bounds a state file; LoadState refuses a larger one unread.
// It holds the chains of a few watched accounts, of at most 65,536
// entries each, at about 90 bytes per entry.
const MaxStateFile = 16 << 20

// State is what a device has verified of one log (docs/transparency.md
// §T.5.4): the last checkpoint it accepted and, per watched account, how
// far it has read the log and what it found there. Check never modifies a
// State; it returns a new one.
type State struct {
	// Origin is the log's origin, the name of its key.
	Origin string `json:"origin"`
	// Checkpoint is the signed note last accepted, as served (with its
	// cosignatures), and Size and Root its tree.
	Checkpoint string    `json:"checkpoint"`
	Size       uint64    `json:"size"`
	Root       tlog.Hash `json:"root"`
	// Accounts maps an account ID (32 hex digits) to what was found of it.
	Accounts map[string]*AccountState `json:"accounts"`
}

// AccountState is what the log holds of one watched account, read from
// leaf 0 to Scanned−1.
type AccountState struct {
	// Scanned is the number of leaves of the log checked for this
	// account: a watch keeps its own, since one state serves several.
	Scanned uint64 `json:"scanned"`
	// Entries are the chain entries found logged, the i-th being entry
	// i: its leaf index and SHA-256. They are always a prefix of the chain.
	Entries []Logged `json:"entries"`
	// Pending maps each chain entry not yet logged, by seq, to when this
	// device first found it missing (POSIX seconds).
	Pending map[uint64]int64 `json:"pending,omitempty"`
	// NameHash is the tlog.NameHash of the watched account name, if any,
	// and NameIndex the leaf that maps it to this account, once found.
	NameHash  *tlog.Hash `json:"name_hash,omitempty"`
	NameIndex *uint64    `json:"name_index,omitempty"`
}

// Logged is a chain entry found in the log: its leaf index and the
// SHA-256 of the entry.
type Logged struct {
	Index uint64    `json:"index"`
	Hash  tlog.Hash `json:"hash"`
}

// stateFile is the JSON document of a state file.
type stateFile struct {
	Version int `json:"version"`
	State
}

// StatePath returns the file of the state of the log whose verifier key
// is vkey in dir: "<32 hex digits of SHA-256(vkey)>.json", vkey without
// surrounding white space. Keying by the whole key, not the origin, keeps
// apart logs that share an origin under different keys: a log trusted on
// first use cannot overwrite what this device verified of another.
func StatePath(dir, vkey string) string {
	h := sha256.Sum256([]byte(strings.TrimSpace(vkey)))
	return filepath.Join(dir, hex.EncodeToString(h[:16])+".json")
}

// keyOrigin returns the origin of the log whose verifier key is vkey.
func keyOrigin(vkey string) (string, error) {
	v, err := tlog.NewLogVerifier(vkey)
	if err != nil {
		return "", fmt.Errorf("transparency state: %w", err)
	}
	return v.Name(), nil
}

// LoadState reads the state of the log whose verifier key is vkey from
// dir, or returns nil if there is none (the first use of the log). It
// refuses a file that is larger than MaxStateFile, not version 1, of
// another origin than vkey's name, or inconsistent with itself.
func LoadState(dir, vkey string) (*State, error) {
	origin, err := keyOrigin(vkey)
	if err != nil {
		return nil, err
	}
	path := StatePath(dir, vkey)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("transparency state: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxStateFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	st, err := ParseState(b, origin)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// ParseState decodes a state file of the log named origin, refusing
// unknown fields and anything Check could not have written.
func ParseState(b []byte, origin string) (*State, error) {
	if len(b) > MaxStateFile {
		return nil, fmt.Errorf("transparency state larger than %d bytes: %w", MaxStateFile, tlog.ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var doc stateFile
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return nil, fmt.Errorf("transparency state is not one JSON object: %v: %w", err, tlog.ErrMalformed)
	}
	if doc.Version != stateVersion || doc.Origin != origin {
		return nil, fmt.Errorf("transparency state of version %d for log %.80q, not version %d for %q: %w", doc.Version, doc.Origin, stateVersion, origin, tlog.ErrMalformed)
	}
	if err := doc.validate(); err != nil {
		return nil, err
	}
	return &doc.State, nil
}

// validate checks the invariants Check keeps.
func (s *State) validate() error {
	c, err := tlog.ParseUnverified([]byte(s.Checkpoint))
	if err != nil {
		return fmt.Errorf("transparency state checkpoint: %w", err)
	}
	if c.Origin != s.Origin || c.Size != s.Size || c.Root != s.Root {
		return fmt.Errorf("transparency state records another tree than its checkpoint: %w", tlog.ErrMalformed)
	}
	for id, a := range s.Accounts {
		if _, err := tlog.ParseAccountID(id); err != nil || a == nil {
			return fmt.Errorf("transparency state of account %.40q: %w", id, tlog.ErrMalformed)
		}
		if err := a.validate(s.Size); err != nil {
			return fmt.Errorf("transparency state of account %s: %w", id, err)
		}
	}
	return nil
}

// validate checks that the account's records lie in the leaves scanned,
// in increasing order, and that pending entries follow the logged ones.
func (a *AccountState) validate(size uint64) error {
	ok := a.Scanned <= size && (a.NameIndex == nil || (a.NameHash != nil && *a.NameIndex < a.Scanned))
	for i, e := range a.Entries {
		ok = ok && e.Index < a.Scanned && (i == 0 || a.Entries[i-1].Index < e.Index)
	}
	for seq := range a.Pending {
		ok = ok && seq >= uint64(len(a.Entries))
	}
	if !ok {
		return fmt.Errorf("records beyond the %d leaves scanned or out of order: %w", a.Scanned, tlog.ErrMalformed)
	}
	return nil
}

// Marshal returns the state file's bytes: indented JSON, as Save writes.
func (s *State) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(stateFile{Version: stateVersion, State: *s}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("transparency state: %w", err)
	}
	return append(b, '\n'), nil
}

// Save replaces the file of the state of the log whose verifier key is
// vkey in dir (created 0700 if needed) atomically: a temporary file in
// dir, synced, renamed over the old one, then the directory synced. A
// crash leaves the old state or the new. It refuses a key of another
// origin than the state's.
func (s *State) Save(dir, vkey string) error {
	origin, err := keyOrigin(vkey)
	if err != nil {
		return err
	}
	if origin != s.Origin {
		return fmt.Errorf("transparency state of log %q cannot be saved as that of key %q", s.Origin, origin)
	}
	b, err := s.Marshal()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("transparency state: %w", err)
	}
	return atomicfile.Write(StatePath(dir, vkey), b, 0o600)
}

// clone returns a deep copy of the parts of s that Check changes: the
// map of accounts (whose values Check replaces, never modifies).
func (s *State) clone() *State {
	c := *s
	c.Accounts = maps.Clone(s.Accounts)
	if c.Accounts == nil {
		c.Accounts = map[string]*AccountState{}
	}
	return &c
}

package witness

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/coffer-backup/coffer/internal/atomicfile"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/coffer-backup/coffer/internal/tlog"
)

// State is what a witness remembers of one log: the size and root hash of
// the last checkpoint it cosigned.
type State struct {
	Size uint64    `json:"size"`
	Root tlog.Hash `json:"root"`
}

// A Store keeps each log's State. Put must be durable when it returns:
// the witness cosigns only after it.
type Store interface {
	// Get returns origin's state, with ok false if the witness never
	// cosigned for it.
	Get(origin string) (s State, ok bool, err error)
	Put(origin string, s State) error
}

// StateFile is the name of FileStore's file in its directory.
const StateFile = "witness-state.json"

// maxStateFile bounds the state file read at start.
const maxStateFile = 1 << 20

// stateDoc is the JSON of the state file (docs/transparency.md §T.4).
type stateDoc struct {
	Version int              `json:"version"`
	Logs    map[string]State `json:"logs"`
}

// FileStore is a Store in one small JSON file, replaced atomically (temp
// file, fsync, rename, fsync of the directory) on every Put, so a crash
// leaves the old state or the new one and never loses a Put that returned.
type FileStore struct {
	mu   sync.Mutex
	dir  string
	logs map[string]State
}

// OpenFileStore reads dir/witness-state.json, or starts empty if there is
// none. dir must exist.
func OpenFileStore(dir string) (*FileStore, error) {
	s := &FileStore{dir: dir, logs: map[string]State{}}
	f, err := os.Open(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	} else if err != nil {
		return nil, fmt.Errorf("witness state: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	var doc stateDoc
	if err := json.Unmarshal(b, &doc); err != nil || len(b) > maxStateFile || doc.Version != 1 {
		return nil, fmt.Errorf("%s is not a version 1 witness state of at most %d bytes: %v", f.Name(), maxStateFile, err)
	}
	for origin, st := range doc.Logs {
		if st.Size > math.MaxInt64 {
			return nil, fmt.Errorf("%s: size %d of %s: %w", f.Name(), st.Size, origin, tlog.ErrMalformed)
		}
		s.logs[origin] = st
	}
	return s, nil
}

// Get returns origin's state.
func (s *FileStore) Get(origin string) (State, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.logs[origin]
	return st, ok, nil
}

// Put records origin's state durably; on error nothing changes.
func (s *FileStore) Put(origin string, st State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	logs := maps.Clone(s.logs)
	logs[origin] = st
	b, err := json.MarshalIndent(stateDoc{Version: 1, Logs: logs}, "", "  ")
	if err != nil {
		return fmt.Errorf("witness state: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(s.dir, StateFile), append(b, '\n'), 0o600); err != nil {
		return err
	}
	s.logs = logs
	return nil
}

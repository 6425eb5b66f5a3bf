package cache

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/coffer-backup/coffer/internal/atomicfile"
	"github.com/coffer-backup/coffer/internal/store"
)

// load returns the local copy of kind/name if there is one whose bytes
// hash to the name, and marks it used now. A copy that does not hash to
// its name (damaged or altered) is removed.
func (s *Store) load(kind store.Kind, name string) ([]byte, bool) {
	p := s.path(kind, name)
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > MaxObject {
		return nil, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	if !hashes(b, name) {
		os.Remove(p)
		return nil, false
	}
	now := time.Now()
	_ = os.Chtimes(p, now, now) // the time of last use, which trimming goes by; best effort
	return b, true
}

// keep writes a copy of kind/name if b hashes to the name. A copy that
// cannot be written is simply not kept: the cache only saves requests.
func (s *Store) keep(kind store.Kind, name string, b []byte) {
	if !hashes(b, name) {
		return
	}
	p := s.path(kind, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	if err := atomicfile.Write(p, b, 0o600); err != nil {
		return
	}
	s.mu.Lock()
	s.added += int64(len(b))
	due := s.added > s.limit/4
	s.mu.Unlock()
	if due {
		s.trim()
	}
}

// cached is one file of the cache directory.
type cached struct {
	path string
	size int64
	used time.Time
}

// staleTemp is the age after which a temporary file left by a writer that
// stopped is removed.
const staleTemp = time.Hour

// trim removes the copies used least recently until the directory holds
// at most s.limit bytes, and temporary files older than staleTemp. What
// it cannot list or remove it leaves: another process may be at work.
func (s *Store) trim() {
	s.mu.Lock()
	s.added = 0
	s.mu.Unlock()
	files, total := s.scan()
	slices.SortFunc(files, func(a, b cached) int { return a.used.Compare(b.used) })
	for _, f := range files {
		if total <= s.limit {
			break
		}
		if err := os.Remove(f.path); err == nil || errors.Is(err, fs.ErrNotExist) {
			total -= f.size
		}
	}
}

// scan lists the copies in the directory with their total size, removing
// stale temporary files on the way.
func (s *Store) scan() ([]cached, int64) {
	var files []cached
	var total int64
	_ = filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil // a file or directory another process removed
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if time.Since(fi.ModTime()) > staleTemp {
				os.Remove(p)
			}
			return nil
		}
		files = append(files, cached{p, fi.Size(), fi.ModTime()})
		total += fi.Size()
		return nil
	})
	return files, total
}

package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/procinfo"
	"github.com/coffer-backup/coffer/internal/store"
)

// Session timing (docs/format.md §8.2). A running session refreshes its
// marker every SessionRefreshEvery; a marker not refreshed for
// SessionStaleAfter is taken to belong to a crashed backup.
const (
	SessionRefreshEvery = time.Hour
	SessionStaleAfter   = 24 * time.Hour
)

// Limits of a session marker's plaintext (docs/format.md §8.2).
const (
	maxSessionSize = 1 << 10
	maxHostLen     = 255
	sessionIDLen   = 16 // random bytes, written as 32 hexadecimal digits
	maxPID         = 1<<31 - 1
)

// SessionInfo describes one session marker found in the store.
type SessionInfo struct {
	Name      string    // object name of the marker in the sessions kind
	ID        string    // random session ID, the same across refreshes
	Host      string    // host name the backup runs on
	Start     time.Time // when the session started, by the backup's clock
	Refreshed time.Time // when this marker was written, by the backup's clock
	PID       int       // the backup's process ID, 0 if not recorded
	Boot      string    // the boot of the backup's machine (procinfo.BootID), "" if not recorded
}

// Stale reports whether the marker is older than SessionStaleAfter at now:
// its backup is taken to have crashed, and prune no longer waits for it.
func (s SessionInfo) Stale(now time.Time) bool { return now.Sub(s.Refreshed) > SessionStaleAfter }

// Gone reports whether the backup's process provably no longer runs: the
// marker names this machine's current boot and a process ID no process
// has (procinfo.Gone). Prune then stops waiting for it at once.
func (s SessionInfo) Gone() bool { return procinfo.Gone(s.Boot, s.PID) }

// sessionMarker is the plaintext of a marker (docs/format.md §8.2).
type sessionMarker struct {
	ID        string    `json:"id"`
	Host      string    `json:"host"`
	Start     time.Time `json:"start"`
	Refreshed time.Time `json:"refreshed"`
	PID       int       `json:"pid,omitempty"`
	Boot      string    `json:"boot,omitempty"`
}

func (m *sessionMarker) validate() error {
	id, err := hex.DecodeString(m.ID)
	switch {
	case err != nil || len(id) != sessionIDLen || hex.EncodeToString(id) != m.ID:
		return fmt.Errorf("session ID %q is not %d lower-case hexadecimal digits", m.ID, 2*sessionIDLen)
	case m.PID < 0 || m.PID > maxPID:
		return fmt.Errorf("session process ID %d is out of range", m.PID)
	case !procinfo.ValidBoot(m.Boot):
		return fmt.Errorf("session boot ID %q is not %d lower-case hexadecimal digits", m.Boot, procinfo.BootIDSize)
	case len(m.Host) > maxHostLen || !utf8.ValidString(m.Host):
		return fmt.Errorf("host name is not valid UTF-8 of at most %d bytes", maxHostLen)
	case m.Start.IsZero() || m.Refreshed.IsZero():
		return errors.New("session times are missing")
	}
	return nil
}

func encodeMarker(m *sessionMarker) ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// decodeMarker parses a marker's plaintext, refusing unknown or missing
// members and invalid values.
func decodeMarker(b []byte) (*sessionMarker, error) {
	if len(b) > maxSessionSize {
		return nil, fmt.Errorf("session marker of %d bytes exceeds %d", len(b), maxSessionSize)
	}
	if !utf8.Valid(b) {
		return nil, errors.New("session marker is not UTF-8")
	}
	var m sessionMarker
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("session marker: %w", err)
	}
	if len(bytes.Trim(b[d.InputOffset():], " \t\r\n")) > 0 {
		return nil, errors.New("session marker: trailing data")
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("session marker: %w", err)
	}
	return &m, nil
}

// Session announces a backup in progress to prune (docs/format.md §8.2):
// while its marker is in the store and not stale, prune deletes nothing
// that the backup may have come to rely on. Until End, it refreshes its
// marker every SessionRefreshEvery in the background.
type Session struct {
	r       *Repo
	stop    chan struct{}
	done    chan struct{}
	endOnce sync.Once

	mu     sync.Mutex // guards the fields below
	marker sessionMarker
	name   string // current marker; empty once ended
	err    error  // last refresh error, nil after a success
}

// StartSession writes a marker for a new session. A backup must call it
// before LoadIndex and End it after writing its snapshot.
func (r *Repo) StartSession(ctx context.Context, host string) (*Session, error) {
	var id [sessionIDLen]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("drawing session ID: %w", err)
	}
	now := time.Now().UTC()
	boot, pid := procinfo.Self()
	s := &Session{
		r: r, stop: make(chan struct{}), done: make(chan struct{}),
		marker: sessionMarker{ID: hex.EncodeToString(id[:]), Host: host, Start: now, Refreshed: now, PID: pid, Boot: boot},
	}
	name, err := s.write(ctx)
	if err != nil {
		return nil, err
	}
	s.name = name
	r.writing.Store(true)
	go s.keepAlive(context.WithoutCancel(ctx))
	return s, nil
}

// ID returns the session's random ID.
func (s *Session) ID() string { return s.marker.ID }

func (s *Session) write(ctx context.Context) (string, error) {
	b, err := encodeMarker(&s.marker)
	if err != nil {
		return "", fmt.Errorf("session marker: %w", err)
	}
	id, err := s.r.SaveObject(ctx, store.Sessions, crypt.ADSession, b)
	if err != nil {
		return "", fmt.Errorf("writing session marker: %w", err)
	}
	return id.String(), nil
}

func (s *Session) keepAlive(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(SessionRefreshEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			err := s.Refresh(ctx)
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
		}
	}
}

// Refresh writes a new marker with the current time and then deletes the
// previous one, so the session is never without a marker.
func (s *Session) Refresh(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.name == "" {
		return errors.New("refreshing a session that has ended")
	}
	s.marker.Refreshed = time.Now().UTC()
	name, err := s.write(ctx)
	if err != nil {
		return err
	}
	old := s.name
	s.name = name
	return deleteObject(ctx, s.r.st, store.Sessions, old)
}

// End stops refreshing and deletes the marker. It returns an error if the
// marker could not be deleted, or if the last background refresh failed
// (the session's protection may then have lapsed). Ending twice is harmless.
func (s *Session) End(ctx context.Context) error {
	s.endOnce.Do(func() {
		close(s.stop)
		<-s.done
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.name == "" {
		return nil
	}
	name := s.name
	s.name = ""
	if err := deleteObject(ctx, s.r.st, store.Sessions, name); err != nil {
		return err
	}
	if s.err != nil {
		return fmt.Errorf("session %s: last refresh failed: %w", s.marker.ID, s.err)
	}
	return nil
}

// deleteObject deletes kind/name; an object already gone is not an error.
func deleteObject(ctx context.Context, st store.Store, kind store.Kind, name string) error {
	err := st.Delete(ctx, kind, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("deleting %s/%s: %w", kind, name, err)
	}
	return nil
}

// Sessions reads every session marker, stale ones included. A marker
// deleted while it is being listed (its session ended or refreshed) is
// left out; one that fails to authenticate or decode is an error.
func (r *Repo) Sessions(ctx context.Context) ([]SessionInfo, error) {
	names, err := r.Names(ctx, store.Sessions)
	if err != nil {
		return nil, err
	}
	var out []SessionInfo
	for _, n := range names {
		b, err := r.LoadObject(ctx, store.Sessions, n, crypt.ADSession, maxSessionSize)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		m, err := decodeMarker(b)
		if err != nil {
			return nil, fmt.Errorf("sessions/%s: %w", n, err)
		}
		out = append(out, SessionInfo{Name: n, ID: m.ID, Host: m.Host, Start: m.Start, Refreshed: m.Refreshed, PID: m.PID, Boot: m.Boot})
	}
	return out, nil
}

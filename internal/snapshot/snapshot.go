// Package snapshot defines the record of one backup, its strict JSON
// encoding (docs/format.md §8.1), how users name snapshots, and the
// retention policy that decides which snapshots to keep.
//
// The package does no I/O and no cryptography: callers seal an encoded
// snapshot with associated data crypt.AD(crypt.ADSnapshot, nil) and store it
// under the SHA-256 of the envelope.
package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffer-backup/coffer/internal/blob"
)

// MaxSize is the largest encoded snapshot Decode accepts.
const MaxSize = 1 << 20

// ErrInvalid is wrapped by every error about a snapshot that breaks the
// format.
var ErrInvalid = errors.New("invalid snapshot")

// Snapshot records one backup: when and where it was taken, of what, and
// the root tree that holds it (docs/format.md §8.1). Fields are encoded in
// this order.
type Snapshot struct {
	Time           time.Time `json:"time"`     // when the backup started, in the local zone of the machine
	Hostname       string    `json:"hostname"` //
	Username       string    `json:"username"` //
	Paths          []string  `json:"paths"`    // absolute, clean, distinct; at least one
	Tags           []string  `json:"tags,omitempty"`
	Tree           blob.ID   `json:"tree"`             // root tree blob; never zero
	Parent         *blob.ID  `json:"parent,omitempty"` // snapshot the backup compared against
	Excludes       []string  `json:"excludes,omitempty"`
	Summary        *Summary  `json:"summary,omitempty"`
	ProgramVersion string    `json:"program_version"`
}

// Summary holds the statistics of the backup that made a snapshot.
type Summary struct {
	FilesNew        uint64        `json:"files_new"`
	FilesChanged    uint64        `json:"files_changed"`
	FilesUnmodified uint64        `json:"files_unmodified"`
	DirsNew         uint64        `json:"dirs_new"`
	DirsChanged     uint64        `json:"dirs_changed"`
	DirsUnmodified  uint64        `json:"dirs_unmodified"`
	BytesRead       uint64        `json:"bytes_read"`  // file content read
	BytesAdded      uint64        `json:"bytes_added"` // plaintext bytes of new blobs stored
	TotalFiles      uint64        `json:"total_files"` // regular files in the snapshot
	TotalBytes      uint64        `json:"total_bytes"` // their logical size, holes included
	Duration        time.Duration `json:"duration_ns"` // wall-clock time; never negative
}

// Encode returns the canonical JSON encoding of s (docs/format.md §8.1):
// fields in declaration order, no insignificant white space, no trailing
// newline, HTML characters not escaped. It refuses a snapshot Decode would
// refuse.
func Encode(s *Snapshot) ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encoding snapshot: %w", err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) > MaxSize {
		return nil, fmt.Errorf("snapshot encodes to %d bytes, more than %d: %w", len(b), MaxSize, ErrInvalid)
	}
	return b, nil
}

// Decode parses and checks an encoded snapshot. It accepts any JSON that
// is valid UTF-8 of at most MaxSize bytes, names only the fields of the
// format (exactly spelled, each at most once, never null), and holds a
// valid snapshot; it rejects everything else.
func Decode(b []byte) (*Snapshot, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("snapshot of %d bytes exceeds %d: %w", len(b), MaxSize, ErrInvalid)
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("snapshot is not valid UTF-8: %w", ErrInvalid)
	}
	if err := checkMembers(b); err != nil {
		return nil, err
	}
	var s Snapshot
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decoding snapshot: %w: %w", err, ErrInvalid)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the snapshot: %w", ErrInvalid)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// validate checks the rules of docs/format.md §8.1 that JSON types do not.
func (s *Snapshot) validate() error {
	switch {
	case s.Time.IsZero():
		return fmt.Errorf("snapshot has no time: %w", ErrInvalid)
	case s.Tree.IsZero():
		return fmt.Errorf("snapshot has no tree: %w", ErrInvalid)
	case s.Parent != nil && s.Parent.IsZero():
		return fmt.Errorf("snapshot's parent is the zero ID: %w", ErrInvalid)
	case len(s.Paths) == 0:
		return fmt.Errorf("snapshot has no paths: %w", ErrInvalid)
	case s.Summary != nil && s.Summary.Duration < 0:
		return fmt.Errorf("snapshot's duration is negative: %w", ErrInvalid)
	}
	if err := distinct("path", s.Paths, checkPath); err != nil {
		return err
	}
	if err := distinct("tag", s.Tags, checkTag); err != nil {
		return err
	}
	return s.checkUTF8()
}

// checkUTF8 refuses strings that are not valid UTF-8, which JSON cannot
// carry: encoding/json would silently replace the invalid bytes.
func (s *Snapshot) checkUTF8() error {
	strs := slices.Concat([]string{s.Hostname, s.Username, s.ProgramVersion}, s.Paths, s.Tags, s.Excludes)
	for _, v := range strs {
		if !utf8.ValidString(v) {
			return fmt.Errorf("snapshot string %q is not valid UTF-8: %w", v, ErrInvalid)
		}
	}
	return nil
}

// distinct applies check to every string of list and refuses repeats.
func distinct(what string, list []string, check func(string) error) error {
	seen := make(map[string]bool, len(list))
	for _, v := range list {
		if err := check(v); err != nil {
			return err
		}
		if seen[v] {
			return fmt.Errorf("snapshot lists %s %q twice: %w", what, v, ErrInvalid)
		}
		seen[v] = true
	}
	return nil
}

// checkPath accepts absolute, clean, slash-separated paths without NUL.
func checkPath(p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p || strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("snapshot path %q is not absolute and clean: %w", p, ErrInvalid)
	}
	return nil
}

// CheckTag reports whether a snapshot can carry tag t (docs/format.md
// §8.1): it must be non-empty and hold no comma; the error wraps
// ErrInvalid.
func CheckTag(t string) error { return checkTag(t) }

// checkTag accepts non-empty tags without commas, so that a
// comma-separated list can name any tag.
func checkTag(t string) error {
	if t == "" || strings.IndexByte(t, ',') >= 0 {
		return fmt.Errorf("snapshot tag %q is empty or has a comma: %w", t, ErrInvalid)
	}
	return nil
}

// memberNames are the JSON member names of the format, exactly spelled.
var memberNames = func() map[string]bool {
	names := make(map[string]bool)
	for _, t := range []reflect.Type{reflect.TypeFor[Snapshot](), reflect.TypeFor[Summary]()} {
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			names[name] = true
		}
	}
	return names
}()

// checkMembers checks what encoding/json leaves unchecked: that every
// member name is one of the format's, spelled exactly (encoding/json folds
// case), that no object repeats a name (encoding/json keeps the last), and
// that no value is null. It assumes b is otherwise valid JSON; Decode
// checks the rest.
func checkMembers(b []byte) error {
	type frame struct {
		names    map[string]bool // nil in an array
		afterKey bool            // a member name was read, its value is next
	}
	var stack []*frame
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("decoding snapshot: %w: %w", err, ErrInvalid)
		}
		if n := len(stack); n > 0 && stack[n-1].names != nil && !stack[n-1].afterKey && tok != json.Delim('}') {
			name, _ := tok.(string)
			if !memberNames[name] || stack[n-1].names[name] {
				return fmt.Errorf("snapshot member %q is unknown or repeated: %w", name, ErrInvalid)
			}
			stack[n-1].names[name], stack[n-1].afterKey = true, true
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{names: map[string]bool{}})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		case nil:
			return fmt.Errorf("snapshot holds null: %w", ErrInvalid)
		}
		if n := len(stack); n > 0 {
			stack[n-1].afterKey = false // a value is complete
		}
	}
}

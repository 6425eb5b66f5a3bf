// Package blob names the units of content a Coffer repository stores: data
// chunks and directory trees, each identified by a 32-byte keyed hash of its
// plaintext (docs/format.md §3).
package blob

import (
	"encoding/hex"
	"errors"
	"fmt"
)

// IDSize is the length in bytes of every identifier in a repository.
const IDSize = 32

// ID identifies a blob (keyed hash of its plaintext) or a stored object (hash
// of its ciphertext). The zero ID never names anything.
type ID [IDSize]byte

// String returns the lower-case hexadecimal form of the ID.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first eight hexadecimal digits, enough for humans to tell
// snapshots apart.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// ErrBadID is returned when a string is not a full hexadecimal ID.
var ErrBadID = errors.New("not a 64-digit hexadecimal ID")

// ParseID parses the 64-digit hexadecimal form produced by ID.String.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDSize {
		return id, fmt.Errorf("%q: %w", s, ErrBadID)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%q: %w", s, ErrBadID)
	}
	return id, nil
}

// MarshalText encodes the ID as hexadecimal, so IDs read naturally in JSON.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText decodes the hexadecimal form.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Type tells what a blob holds. Its numeric value is part of the format
// (docs/format.md §3) and is bound into every blob's associated data.
type Type uint8

// Blob types.
const (
	Data Type = 1 // a chunk of file content
	Tree Type = 2 // an encoded directory listing
)

// Valid reports whether t is a known blob type.
func (t Type) Valid() bool { return t == Data || t == Tree }

func (t Type) String() string {
	switch t {
	case Data:
		return "data"
	case Tree:
		return "tree"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Handle names a blob together with its type.
type Handle struct {
	Type Type
	ID   ID
}

func (h Handle) String() string { return h.Type.String() + "/" + h.ID.String() }

// Package tlog is Coffer's transparency log in pure form: the leaves the
// server logs (docs/transparency.md §T.1), checkpoints and their keys and
// cosignatures (§T.2), C2SP tile paths and entry bundles (§T.3), a witness
// policy, and the client's checks of consistency, inclusion and leaf ranges
// over tiles fetched through a narrow interface. It builds on
// golang.org/x/mod/sumdb/tlog (RFC 6962 hashing, stored hashes, proofs)
// and golang.org/x/mod/sumdb/note (signed notes), and does no I/O.
package tlog

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrMalformed means bytes or text do not follow the formats of
// docs/transparency.md; every parser's errors wrap it.
var ErrMalformed = errors.New("malformed transparency log data")

// Leaf versions and types (docs/transparency.md §T.1).
const (
	leafVersion   = 0x01
	leafTypeChain = 0x01
	leafTypeName  = 0x02
)

// Leaf sizes in bytes (docs/transparency.md §T.1).
const (
	ChainLeafSize = 2 + 16 + 8 + 32
	NameLeafSize  = 2 + 32 + 16 + 32
	// MaxLeafSize is the largest leaf of any type.
	MaxLeafSize = NameLeafSize
)

// nameLabel separates account-name hashes from every other SHA-256 use.
const nameLabel = "coffer v1 account name"

// AccountID is an account's random identifier as 16 raw bytes; the server
// writes it as 32 lower-case hex digits.
type AccountID [16]byte

// ParseAccountID decodes the 32 lower-case hex digits of an account ID.
func ParseAccountID(s string) (AccountID, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(AccountID{}) || hex.EncodeToString(b) != s {
		return AccountID{}, fmt.Errorf("account ID %q is not 32 lower-case hex digits: %w", s, ErrMalformed)
	}
	return AccountID(b), nil
}

// String returns the ID as 32 lower-case hex digits.
func (id AccountID) String() string { return hex.EncodeToString(id[:]) }

// NameHash returns SHA-256("coffer v1 account name" || 0x00 || name), the
// only form in which an account name goes public (§T.1).
func NameHash(name string) [32]byte {
	h := sha256.New()
	h.Write([]byte(nameLabel))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return [32]byte(h.Sum(nil))
}

// A Leaf is one record of the log: a *ChainLeaf or a *NameLeaf.
type Leaf interface {
	// Marshal returns the leaf's one canonical encoding.
	Marshal() []byte
	isLeaf()
}

// ChainLeaf records that entry Seq of Account's device chain has SHA-256
// EntryHash (docs/transparency.md §T.1).
type ChainLeaf struct {
	Account   AccountID
	Seq       uint64
	EntryHash [32]byte
}

// NameLeaf binds an account name (by NameHash) to the account ID and its
// genesis entry's SHA-256 (docs/transparency.md §T.1).
type NameLeaf struct {
	NameHash    [32]byte
	Account     AccountID
	GenesisHash [32]byte
}

func (*ChainLeaf) isLeaf() {}
func (*NameLeaf) isLeaf()  {}

// Marshal returns the 58-byte encoding of §T.1.
func (l *ChainLeaf) Marshal() []byte {
	b := make([]byte, 0, ChainLeafSize)
	b = append(b, leafVersion, leafTypeChain)
	b = append(b, l.Account[:]...)
	b = binary.BigEndian.AppendUint64(b, l.Seq)
	return append(b, l.EntryHash[:]...)
}

// Marshal returns the 82-byte encoding of §T.1.
func (l *NameLeaf) Marshal() []byte {
	b := make([]byte, 0, NameLeafSize)
	b = append(b, leafVersion, leafTypeName)
	b = append(b, l.NameHash[:]...)
	b = append(b, l.Account[:]...)
	return append(b, l.GenesisHash[:]...)
}

// ParseLeaf decodes a leaf of §T.1. It accepts exactly the encodings
// Marshal produces: a known version and type and the exact length.
func ParseLeaf(b []byte) (Leaf, error) {
	if len(b) < 2 || b[0] != leafVersion {
		return nil, fmt.Errorf("leaf of %d bytes without version %d: %w", len(b), leafVersion, ErrMalformed)
	}
	switch {
	case b[1] == leafTypeChain && len(b) == ChainLeafSize:
		return &ChainLeaf{
			Account:   AccountID(b[2:18]),
			Seq:       binary.BigEndian.Uint64(b[18:26]),
			EntryHash: [32]byte(b[26:58]),
		}, nil
	case b[1] == leafTypeName && len(b) == NameLeafSize:
		return &NameLeaf{
			NameHash:    [32]byte(b[2:34]),
			Account:     AccountID(b[34:50]),
			GenesisHash: [32]byte(b[50:82]),
		}, nil
	}
	return nil, fmt.Errorf("leaf of type %d and %d bytes: %w", b[1], len(b), ErrMalformed)
}

package tlog

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	xtlog "golang.org/x/mod/sumdb/tlog"
)

// Hash is a SHA-256 Merkle tree hash (RFC 6962), the x/mod type.
type Hash = xtlog.Hash

// HashReader reads stored tree hashes by their x/mod storage index.
type HashReader = xtlog.HashReader

// Limits on checkpoints (docs/transparency.md §T.2).
const (
	// MaxOriginSize bounds a checkpoint's origin line in bytes.
	MaxOriginSize = 255
	// MaxNoteSize bounds a signed checkpoint with all its signature lines;
	// parsers refuse longer input before looking at it.
	MaxNoteSize = 64 << 10
)

// Limits on a log's growth (docs/transparency.md §T.4, §T.5.2). Coffer's
// logs gain a leaf per device-chain entry and per account name, so an
// honest log never comes near them; they stop a log from having a tree of
// absurd size cosigned (a consistent extension by 2⁴⁰ filler leaves
// costs its operator nothing) that every client would then have to read.
const (
	// MaxGrowth is the most leaves a checkpoint may add to the last one a
	// witness cosigned or a client verified.
	MaxGrowth = 1 << 24
	// MaxFirstSize is the largest tree a client accepts on first use of
	// a log, and a witness cosigns for a log it has never cosigned.
	MaxFirstSize = 1 << 32
)

// ErrInconsistent means two views of the log cannot both be honest: a
// consistency proof failed, or a tree got smaller.
var ErrInconsistent = errors.New("log views are inconsistent")

// emptyRoot is the root hash of the empty tree, SHA-256 of nothing.
var emptyRoot, _ = xtlog.TreeHash(0, nil)

// A Checkpoint is the body of a C2SP tlog-checkpoint (§T.2): the log's
// origin and the size and root hash of its tree.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   Hash
}

// Tree returns the checkpoint as an x/mod tree.
func (c Checkpoint) Tree() xtlog.Tree { return xtlog.Tree{N: int64(c.Size), Hash: c.Root} }

// Body returns the note text of §T.2: origin, decimal size and base64
// root hash, each ending in a newline, with no extension lines.
func (c Checkpoint) Body() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// ParseBody decodes a checkpoint body of §T.2. It accepts exactly what
// Body produces for a valid checkpoint: a valid origin, a canonical
// decimal size of at most 2⁶³−1, a canonical base64 hash of 32 bytes
// (the empty tree's hash when the size is 0), and no extension lines.
func ParseBody(text []byte) (Checkpoint, error) {
	lines := strings.SplitAfter(string(text), "\n")
	if len(text) > MaxNoteSize || len(lines) != 4 || lines[3] != "" {
		return Checkpoint{}, fmt.Errorf("checkpoint body is not three lines: %w", ErrMalformed)
	}
	var c Checkpoint
	c.Origin = strings.TrimSuffix(lines[0], "\n")
	if err := checkName(c.Origin); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint origin: %w", err)
	}
	size, err := ParseSize(strings.TrimSuffix(lines[1], "\n"))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint size: %w", err)
	}
	c.Size = size
	root, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSuffix(lines[2], "\n"))
	if err != nil || len(root) != len(c.Root) {
		return Checkpoint{}, fmt.Errorf("checkpoint root hash is not base64 of 32 bytes: %w", ErrMalformed)
	}
	c.Root = Hash(root)
	if c.Size == 0 && c.Root != emptyRoot {
		return Checkpoint{}, fmt.Errorf("checkpoint of an empty tree with a root other than SHA-256(\"\"): %w", ErrMalformed)
	}
	if !bytes.Equal(c.Body(), text) {
		return Checkpoint{}, fmt.Errorf("checkpoint body is not canonical: %w", ErrMalformed)
	}
	return c, nil
}

// ParseSize decodes a tree size written in ASCII decimal without leading
// zeros (C2SP's form for checkpoints, witness requests and responses), at
// most 2⁶³−1.
func ParseSize(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil || strconv.FormatUint(n, 10) != s {
		return 0, fmt.Errorf("tree size %.20q is not canonical decimal below 2^63: %w", s, ErrMalformed)
	}
	return n, nil
}

// checkName enforces the rules for a note key name and checkpoint origin:
// 1 to MaxOriginSize bytes of UTF-8 with no spaces, control characters or
// plus signs.
func checkName(name string) error {
	bad := func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '+' }
	if name == "" || len(name) > MaxOriginSize || !utf8.ValidString(name) || strings.IndexFunc(name, bad) >= 0 {
		return fmt.Errorf("name %.40q is not 1 to %d bytes of UTF-8 without spaces, controls or '+': %w", name, MaxOriginSize, ErrMalformed)
	}
	return nil
}

// Sign signs a checkpoint body with the log's key and returns the signed
// note. It refuses a body ParseBody would refuse, so a log never signs
// what its clients cannot read.
func Sign(body []byte, signer note.Signer) ([]byte, error) {
	if _, err := ParseBody(body); err != nil {
		return nil, fmt.Errorf("signing checkpoint: %w", err)
	}
	signed, err := note.Sign(&note.Note{Text: string(body)}, signer)
	if err != nil {
		return nil, fmt.Errorf("signing checkpoint with key %s: %w", signer.Name(), err)
	}
	return signed, nil
}

// ParseUnverified returns the checkpoint in a signed note WITHOUT checking
// any signature; its only use is choosing which log's key to verify with.
func ParseUnverified(signed []byte) (Checkpoint, error) {
	text, _, err := splitNote(signed)
	if err != nil {
		return Checkpoint{}, err
	}
	return ParseBody(text)
}

// splitNote splits a bounded signed note into its text (with the final
// newline) and its signature block.
func splitNote(signed []byte) (text, sigs []byte, err error) {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if len(signed) > MaxNoteSize || i < 0 {
		return nil, nil, fmt.Errorf("signed note of %d bytes (at most %d) without a blank line: %w", len(signed), MaxNoteSize, ErrMalformed)
	}
	return signed[:i+1], signed[i+2:], nil
}

// GenerateLogKey makes a log's Ed25519 note key pair named by its origin,
// in x/mod's text forms: skey is secret ("PRIVATE+KEY+…"), vkey public.
func GenerateLogKey(origin string) (skey, vkey string, err error) {
	if err := checkName(origin); err != nil {
		return "", "", fmt.Errorf("log key: %w", err)
	}
	return note.GenerateKey(rand.Reader, origin)
}

// NewLogSigner returns the signer of a log's secret key (GenerateLogKey's
// skey). Its errors never contain the key.
func NewLogSigner(skey string) (note.Signer, error) {
	s, err := note.NewSigner(strings.TrimSpace(skey))
	if err != nil {
		return nil, fmt.Errorf("log signing key is not an Ed25519 note key: %w", ErrMalformed)
	}
	if err := checkName(s.Name()); err != nil {
		return nil, fmt.Errorf("log signing key: %w", err)
	}
	return s, nil
}

// NewLogVerifier parses a log's verifier key (GenerateLogKey's vkey,
// "<origin>+<8 hex key ID>+<base64(0x01 || Ed25519 public key)>").
func NewLogVerifier(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("log verifier key %.80q: %v: %w", vkey, err, ErrMalformed)
	}
	if err := checkName(v.Name()); err != nil {
		return nil, fmt.Errorf("log verifier key: %w", err)
	}
	return v, nil
}

// VerifyConsistencyProof checks an RFC 6962 consistency proof that the tree
// of oldSize with root oldRoot is a prefix of c. An empty old tree is a
// prefix of every tree, with an empty proof; equal sizes need equal roots.
func VerifyConsistencyProof(proof []Hash, oldSize uint64, oldRoot Hash, c Checkpoint) error {
	switch {
	case oldSize > c.Size:
		return fmt.Errorf("tree of size %d cannot follow one of size %d: %w", c.Size, oldSize, ErrInconsistent)
	case oldSize == 0 && len(proof) != 0:
		return fmt.Errorf("a proof from the empty tree must be empty, not %d hashes: %w", len(proof), ErrInconsistent)
	case oldSize == 0:
		return nil
	case c.Size > math.MaxInt64:
		return fmt.Errorf("tree size %d: %w", c.Size, ErrMalformed)
	}
	if err := xtlog.CheckTree(proof, int64(c.Size), c.Root, int64(oldSize), oldRoot); err != nil {
		return fmt.Errorf("consistency proof from size %d to %d: %v: %w", oldSize, c.Size, err, ErrInconsistent)
	}
	return nil
}

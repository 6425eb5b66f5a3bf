package tlog

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Errors of Policy.Verify, besides ErrMalformed.
var (
	// ErrLogSignature means the checkpoint lacks a valid signature by the
	// log's key, or that key belongs to another origin.
	ErrLogSignature = errors.New("checkpoint not validly signed by the log")
	// ErrTooFewCosignatures means fewer distinct trusted witnesses than
	// the policy's threshold cosigned the checkpoint.
	ErrTooFewCosignatures = errors.New("too few witness cosignatures")
)

// A Policy says whose signatures make a checkpoint trustworthy: the log's
// own, and valid cosignatures of at least Threshold distinct Witnesses
// (docs/transparency.md §T.2.4).
type Policy struct {
	Log       note.Verifier
	Witnesses []note.Verifier
	Threshold int
}

// keyID names a note key: its name and key ID together.
type keyID struct {
	name string
	hash uint32
}

// A Cosignature is a policy witness's valid cosignature of a checkpoint.
type Cosignature struct {
	// Name is the witness's key name.
	Name string
	// Time is the cosignature's timestamp (cosignature/v1, §T.2.3): when
	// the witness last saw the checkpoint as the log's largest tree. It
	// is zero for a witness key of a type without a timestamp.
	Time time.Time
}

// Verify opens a signed checkpoint under the policy, as Open does, and
// returns the names of the witnesses whose cosignatures verified.
func (p Policy) Verify(signed []byte) (*Checkpoint, []string, error) {
	c, cosigs, err := p.Open(signed)
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, len(cosigs))
	for i, cs := range cosigs {
		names[i] = cs.Name
	}
	return c, names, nil
}

// Open opens a signed checkpoint under the policy. It returns the
// checkpoint and the valid cosignatures of distinct policy witnesses, in
// the policy's order, or an error wrapping ErrMalformed, ErrLogSignature
// or ErrTooFewCosignatures. Signatures by unknown keys are ignored, and so
// is a witness's cosignature that does not verify (it counts as absent): a
// bad line appended by one witness cannot make the checkpoint unusable.
func (p Policy) Open(signed []byte) (*Checkpoint, []Cosignature, error) {
	if p.Log == nil || slices.Contains(p.Witnesses, nil) || p.Threshold < 0 || p.Threshold > len(p.Witnesses) {
		return nil, nil, fmt.Errorf("witness policy of %d of %d witnesses cannot be met", p.Threshold, len(p.Witnesses))
	}
	if _, _, err := splitNote(signed); err != nil {
		return nil, nil, err
	}
	n, err := note.Open(signed, note.VerifierList(p.Log))
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &unverified):
		return nil, nil, fmt.Errorf("no signature by log key %s+%08x: %w", p.Log.Name(), p.Log.KeyHash(), ErrLogSignature)
	case errors.As(err, &invalid):
		return nil, nil, fmt.Errorf("invalid signature by log key %s+%08x: %w", p.Log.Name(), p.Log.KeyHash(), ErrLogSignature)
	case err != nil:
		return nil, nil, fmt.Errorf("signed checkpoint: %v: %w", err, ErrMalformed)
	}
	c, err := ParseBody([]byte(n.Text))
	if err != nil {
		return nil, nil, err
	}
	if c.Origin != p.Log.Name() {
		return nil, nil, fmt.Errorf("checkpoint of origin %q signed by the key of %q: %w", c.Origin, p.Log.Name(), ErrLogSignature)
	}
	cosigs := p.cosigners(n)
	if len(cosigs) < p.Threshold {
		return nil, nil, fmt.Errorf("checkpoint of %s at size %d has valid cosignatures from %d of the %d witnesses required: %w",
			c.Origin, c.Size, len(cosigs), p.Threshold, ErrTooFewCosignatures)
	}
	return &c, cosigs, nil
}

// cosigners returns the valid cosignatures of distinct policy witnesses
// among the note's other signatures.
func (p Policy) cosigners(n *note.Note) []Cosignature {
	var cosigs []Cosignature
	seen := make(map[keyID]bool)
	for _, w := range p.Witnesses {
		id := keyID{w.Name(), w.KeyHash()}
		if seen[id] {
			continue
		}
		for _, s := range n.UnverifiedSigs {
			raw, err := base64.StdEncoding.DecodeString(s.Base64)
			if s.Name == id.name && s.Hash == id.hash && err == nil && len(raw) > 4 && w.Verify([]byte(n.Text), raw[4:]) {
				seen[id] = true
				cosigs = append(cosigs, Cosignature{Name: id.name, Time: timestamp(w, raw[4:])})
				break
			}
		}
	}
	return cosigs
}

// timestamp returns the time of a verified cosignature sig by w: its first
// 8 bytes if w is a cosignature/v1 key, else the zero time.
func timestamp(w note.Verifier, sig []byte) time.Time {
	if _, ok := w.(*cosigVerifier); !ok {
		return time.Time{}
	}
	return time.Unix(int64(binary.BigEndian.Uint64(sig)), 0)
}

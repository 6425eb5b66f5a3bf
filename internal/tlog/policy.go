package tlog

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

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

// Verify opens a signed checkpoint under the policy. It returns the
// checkpoint and the names of the witnesses whose cosignatures verified,
// or an error wrapping ErrMalformed, ErrLogSignature or
// ErrTooFewCosignatures. Signatures by unknown keys are ignored, and so is
// a witness's cosignature that does not verify (it counts as absent): a
// bad line appended by one witness cannot make the checkpoint unusable.
func (p Policy) Verify(signed []byte) (*Checkpoint, []string, error) {
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
	names := p.cosigners(n)
	if len(names) < p.Threshold {
		return nil, nil, fmt.Errorf("checkpoint of %s at size %d has valid cosignatures from %d of the %d witnesses required: %w",
			c.Origin, c.Size, len(names), p.Threshold, ErrTooFewCosignatures)
	}
	return &c, names, nil
}

// cosigners returns the names of the distinct policy witnesses with a
// valid cosignature among the note's other signatures.
func (p Policy) cosigners(n *note.Note) []string {
	var names []string
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
				names = append(names, id.name)
				break
			}
		}
	}
	return names
}

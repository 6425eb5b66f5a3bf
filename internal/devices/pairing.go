package devices

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/coffer-backup/coffer/internal/keys"
)

// PendingAdd is an add-device entry signed by an existing signer and
// waiting for the new device's countersignature, which may come from
// another machine (pairing, docs/pairing.md).
type PendingAdd struct {
	chain *Chain
	entry *Entry
}

// PrepareAdd signs the entry adding newDev with the given rights on top of
// c and returns it for countersigning.
func (c *Chain) PrepareAdd(s Signer, newDev keys.DevicePublic, rights Rights, now time.Time) (*PendingAdd, error) {
	if len(s.key) != ed25519.PrivateKeySize || c.Len() == 0 {
		return nil, fmt.Errorf("building an add-device entry: bad signer key or empty chain: %w", ErrInvalid)
	}
	e := &Entry{Type: TypeAddDevice, Device: newDev}
	if rights == AppendOnly {
		e.Type = TypeAddAppendOnly
	}
	c.sign(e, s, nil, now)
	return &PendingAdd{chain: c, entry: e}, nil
}

// SignedPart returns the bytes the new device must countersign (with
// Countersign).
func (p *PendingAdd) SignedPart() []byte { return p.entry.signedPart() }

// Finish completes the entry with the new device's countersignature and
// returns its encoding, refusing a countersignature that does not verify.
func (p *PendingAdd) Finish(countersig []byte) ([]byte, error) {
	e := *p.entry
	e.Countersig = bytes.Clone(countersig)
	b := e.Marshal()
	if _, err := p.chain.Extend([][]byte{b}); err != nil {
		return nil, fmt.Errorf("completing the add-device entry: %w", err)
	}
	return b, nil
}

// Countersign returns dev's countersignature of signedPart, and the
// entry's sequence number, after checking that it is the signed part of an
// entry of account that adds exactly dev: a device never vouches for
// anything else. The new device cannot check the rest of the entry yet: once
// added, it verifies the chain it reads and that the entry at that sequence
// number is the one it countersigned (JoinedAt), whose prev field pins every
// entry before it.
func Countersign(account string, dev *keys.Device, signedPart []byte) ([]byte, uint64, error) {
	e, err := parseSignedPart(signedPart)
	if err != nil {
		return nil, 0, err
	}
	pub := dev.Public()
	switch {
	case !bytes.Equal(e.Device.Sign, pub.Sign) || !bytes.Equal(e.Device.KEM, pub.KEM) || e.Device.Name != pub.Name:
		return nil, 0, fmt.Errorf("entry to countersign adds device %s, not this one (%s): %w", e.Device.ID, dev.ID, ErrInvalid)
	case e.Account != account:
		return nil, 0, fmt.Errorf("entry to countersign is for account %s, not %s: %w", e.Account, account, ErrWrongAccount)
	}
	return ed25519.Sign(dev.Sign, e.message(labelCounter)), e.Seq, nil
}

// parseSignedPart parses the signed part of an add-device entry.
func parseSignedPart(signedPart []byte) (*Entry, error) {
	if len(signedPart) > 1 && !Type(signedPart[1]).adds() {
		return nil, fmt.Errorf("entry to countersign is a %s entry, not add device: %w", Type(signedPart[1]), ErrInvalid)
	}
	// Parse it as a whole entry with placeholder signatures.
	e, err := Parse(append(bytes.Clone(signedPart), make([]byte, 2*ed25519.SignatureSize)...))
	if err != nil {
		return nil, fmt.Errorf("entry to countersign: %w", err)
	}
	return e, nil
}

// Holds reports whether the chain's entry seq has exactly the given signed
// part: a joined device's check that the chain it now reads contains the
// entry it countersigned, and so the history that entry's prev pins.
func (c *Chain) Holds(seq uint64, signedPart []byte) bool {
	if seq >= c.Len() {
		return false
	}
	e, err := parseSignedPart(signedPart)
	return err == nil && e.Seq == seq && c.signed[seq] == sha256.Sum256(signedPart)
}

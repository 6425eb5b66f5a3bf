package devices

import (
	"bytes"
	"crypto/ed25519"
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

// PrepareAdd signs the entry adding newDev on top of c and returns it for
// countersigning.
func (c *Chain) PrepareAdd(s Signer, newDev keys.DevicePublic, now time.Time) (*PendingAdd, error) {
	if len(s.key) != ed25519.PrivateKeySize || c.Len() == 0 {
		return nil, fmt.Errorf("building an add-device entry: bad signer key or empty chain: %w", ErrInvalid)
	}
	e := &Entry{Type: TypeAddDevice, Device: newDev}
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

// Countersign returns dev's countersignature of signedPart, after checking
// that it is the signed part of an entry that adds exactly dev as the next
// entry of c: a device never vouches for anything else.
func Countersign(c *Chain, dev *keys.Device, signedPart []byte) ([]byte, error) {
	if len(signedPart) > 1 && Type(signedPart[1]) != TypeAddDevice {
		return nil, fmt.Errorf("entry to countersign is a %s entry, not add device: %w", Type(signedPart[1]), ErrInvalid)
	}
	// Parse the signed part as a whole entry with placeholder signatures.
	b := append(bytes.Clone(signedPart), make([]byte, 2*ed25519.SignatureSize)...)
	e, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("entry to countersign: %w", err)
	}
	pub := dev.Public()
	switch {
	case !bytes.Equal(e.Device.Sign, pub.Sign) || !bytes.Equal(e.Device.KEM, pub.KEM) || e.Device.Name != pub.Name:
		return nil, fmt.Errorf("entry to countersign adds device %s, not this one (%s): %w", e.Device.ID, dev.ID, ErrInvalid)
	case e.Account != c.account || e.Seq != c.Len() || e.Prev != c.Head():
		return nil, fmt.Errorf("entry to countersign does not extend the chain shown (entry %d of account %s): %w", e.Seq, e.Account, ErrFork)
	}
	return ed25519.Sign(dev.Sign, e.message(labelCounter)), nil
}

package devices

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/keys"
)

// labelCommit is the HKDF info of a root-key commitment (docs/devices.md §D.1).
const labelCommit = "coffer v1 root key commitment"

// KeyCommitment returns HKDF-SHA-256(root, "coffer v1 root key
// commitment"): the value the chain records for a root-key epoch. A device
// that unwraps a root key from the store accepts it only if its commitment
// equals the chain's, so the store cannot substitute a key of its own.
func KeyCommitment(root *crypt.Key) [sha256.Size]byte {
	var c [sha256.Size]byte
	// hkdf.Key fails only when asked for more than 255 hash lengths.
	out, _ := hkdf.Key(sha256.New, root[:], nil, labelCommit, sha256.Size)
	copy(c[:], out)
	return c
}

// Signer is who signs a new entry: a device of the chain or the recovery
// key.
type Signer struct {
	id  string
	key ed25519.PrivateKey
}

// ByDevice returns a Signer for a device. The Signer shares d's key.
func ByDevice(d *keys.Device) Signer { return Signer{id: d.ID, key: d.Sign} }

// ByRecovery returns a Signer for the recovery key's signing key; call
// Zero when done with it.
func ByRecovery(rk *keys.RecoveryKey) Signer { return Signer{id: Recovery, key: rk.SigningKey()} }

// Zero overwrites the Signer's private key. For a ByDevice signer this
// zeroes the device's signing key too.
func (s Signer) Zero() { clear(s.key) }

// NewGenesis returns the first entry of an account's chain: it pins the
// first device, the recovery key's signing public key and the commitment of
// the root key of epoch 0. The recovery key countersigns it, so that a
// device recovering the account with that key later knows the chain is the
// one the key was made for, not one a store made up around its public key.
func NewGenesis(account string, first *keys.Device, rk *keys.RecoveryKey, commit [sha256.Size]byte, now time.Time) ([]byte, error) {
	rs := ByRecovery(rk)
	defer rs.Zero()
	e := &Entry{Type: TypeGenesis, Device: first.Public(), Recovery: rs.key.Public().(ed25519.PublicKey), Commit: commit}
	return (&Chain{account: account}).seal(e, ByDevice(first), rs.countersign, now)
}

// countersign returns the Signer's signature of msg.
func (s Signer) countersign(msg []byte) []byte { return ed25519.Sign(s.key, msg) }

// AddDevice returns the entry adding newDev, signed by s and countersigned
// by countersign, which must return the new device's Ed25519 signature of
// its argument (proof that the device holds its key).
func (c *Chain) AddDevice(s Signer, newDev keys.DevicePublic, countersign func(msg []byte) []byte, now time.Time) ([]byte, error) {
	return c.AddDeviceWith(s, newDev, Full, countersign, now)
}

// AddDeviceWith is AddDevice giving the new device the rights r.
func (c *Chain) AddDeviceWith(s Signer, newDev keys.DevicePublic, r Rights, countersign func(msg []byte) []byte, now time.Time) ([]byte, error) {
	p, err := c.PrepareAdd(s, newDev, r, now)
	if err != nil {
		return nil, err
	}
	var cs []byte
	if countersign != nil {
		cs = countersign(crypt.AD(labelCounter, p.SignedPart()))
	}
	return p.Finish(cs)
}

// RemoveDevice returns the entry removing device id, which starts a new
// epoch whose root key has the commitment commit. From that entry on the
// removed device can sign nothing.
func (c *Chain) RemoveDevice(s Signer, id string, commit [sha256.Size]byte, now time.Time) ([]byte, error) {
	return c.seal(&Entry{Type: TypeRemoveDevice, Remove: id, Epoch: c.Epoch() + 1, Commit: commit}, s, nil, now)
}

// RotateKey returns the entry starting a new root-key epoch.
func (c *Chain) RotateKey(s Signer, commit [sha256.Size]byte, now time.Time) ([]byte, error) {
	return c.seal(&Entry{Type: TypeRotateKey, Epoch: c.Epoch() + 1, Commit: commit}, s, nil, now)
}

// RotateRecovery returns the entry making rk the recovery key, which
// countersigns it; later recovery-signed entries verify under rk only.
func (c *Chain) RotateRecovery(s Signer, rk *keys.RecoveryKey, now time.Time) ([]byte, error) {
	rs := ByRecovery(rk)
	defer rs.Zero()
	return c.seal(&Entry{Type: TypeRotateRecovery, Recovery: rs.key.Public().(ed25519.PublicKey)}, s, rs.countersign, now)
}

// SetContacts returns the entry naming the recovery contacts, k of whom are
// needed; no contacts and k = 0 clears them.
func (c *Chain) SetContacts(s Signer, contacts []keys.DevicePublic, k int, now time.Time) ([]byte, error) {
	if k < 0 || k > MaxContacts {
		return nil, fmt.Errorf("threshold %d out of range: %w", k, ErrInvalid)
	}
	return c.seal(&Entry{Type: TypeSetContacts, Contacts: contacts, Threshold: k}, s, nil, now)
}

// seal signs e and checks the result by extending c with it, so that a
// builder never returns an entry Verify would refuse.
func (c *Chain) seal(e *Entry, s Signer, countersign func([]byte) []byte, now time.Time) ([]byte, error) {
	if len(s.key) != ed25519.PrivateKeySize || (e.Type == TypeGenesis) != (c.Len() == 0) {
		return nil, fmt.Errorf("building a %s entry: bad signer key or chain state: %w", e.Type, ErrInvalid)
	}
	b := c.sign(e, s, countersign, now)
	if _, err := c.Extend([][]byte{b}); err != nil {
		return nil, fmt.Errorf("building a %s entry: %w", e.Type, err)
	}
	return b, nil
}

// sign fills in the header of e as the next entry of c, signs it and
// returns its encoding.
func (c *Chain) sign(e *Entry, s Signer, countersign func([]byte) []byte, now time.Time) []byte {
	e.Account, e.Seq, e.Prev, e.Signer = c.account, c.Len(), c.Head(), s.id
	e.Time = time.Unix(now.Unix(), 0).UTC()
	e.Sig = ed25519.Sign(s.key, e.message(labelSign))
	if countersign != nil {
		e.Countersig = countersign(e.message(labelCounter))
	}
	return e.Marshal()
}

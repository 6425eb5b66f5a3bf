package devices

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/coffer-backup/coffer/internal/keys"
)

// Rights are what a device may sign (docs/devices.md §D.4 step 6).
type Rights uint8

const (
	// Full rights: every entry but genesis.
	Full Rights = iota
	// AppendOnly rights: snapshot entries only. The device can add backups
	// but not forget them, change devices or keys, or authorise a prune.
	AppendOnly
)

// String names the rights as listings show them.
func (r Rights) String() string {
	if r == AppendOnly {
		return "append-only"
	}
	return "full"
}

// Member is a device of the chain's current set.
type Member struct {
	Public  keys.DevicePublic
	Rights  Rights
	AddedBy string // DeviceID of the entry's signer, or Recovery; the device itself for genesis
	AddedAt uint64 // sequence number of the entry that added it
	// AddedTime is the adding entry's time: the signer's clock, so
	// informational only.
	AddedTime time.Time
}

// Chain is the state of a verified device chain (docs/devices.md §D.4). It
// is immutable: Extend returns a new Chain and leaves the receiver as it
// was, so a caller that meets a bad entry keeps its last verified state.
type Chain struct {
	account    string
	hashes     [][sha256.Size]byte // hashes[i] = Hash(entry i)
	signed     [][sha256.Size]byte // signed[i] = SHA-256 of entry i's signed part
	devices    map[string]Member
	removed    map[string]uint64 // DeviceID → sequence number of its removal
	recovery   ed25519.PublicKey
	contacts   []keys.DevicePublic
	threshold  int
	contactsAt uint64              // sequence number of the entry that set the contacts
	commits    [][sha256.Size]byte // commits[epoch] = root-key commitment
	history
	webState
	replaying bool // Replay: signatures were checked when the entries were first accepted
}

// Verify verifies a whole chain from its genesis entry and returns its
// state. Every failure is an *EntryError naming the entry.
func Verify(account string, entries [][]byte) (*Chain, error) {
	if err := checkAccount(account); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, &EntryError{0, fmt.Errorf("chain has no genesis entry: %w", ErrMalformed)}
	}
	c := &Chain{account: account}
	return c.Extend(entries)
}

// Replay rebuilds the state of a chain this device verified before and
// kept in its own home directory: every check of Verify but the Ed25519
// signatures, which were checked when the entries were first accepted and
// cost most of the time of a long chain. Never use it for entries from a
// store.
func Replay(account string, entries [][]byte) (*Chain, error) {
	if err := checkAccount(account); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, &EntryError{0, fmt.Errorf("chain has no genesis entry: %w", ErrMalformed)}
	}
	c, err := (&Chain{account: account, replaying: true}).Extend(entries)
	if err != nil {
		return nil, err
	}
	c.replaying = false
	return c, nil
}

// Extend verifies entries on top of c and returns the extended state; c is
// not changed. entries must be consecutive and may begin at or before
// c.Len(): each entry c already holds must hash to what c verified, and the
// first new entry must link to c.Head(); either failure is ErrFork. Entries
// that only repeat what c holds return a Chain equal to c, so a server that
// serves a shorter chain cannot roll the caller back.
func (c *Chain) Extend(entries [][]byte) (*Chain, error) {
	if len(entries) > MaxChainLen {
		return nil, &EntryError{c.Len(), fmt.Errorf("%d entries exceed %d: %w", len(entries), MaxChainLen, ErrMalformed)}
	}
	n := c.clone()
	next := c.Len()
	for i, b := range entries {
		e, err := Parse(b)
		if err != nil {
			return nil, &EntryError{next, err}
		}
		if i == 0 && e.Seq < c.Len() {
			next = e.Seq
		}
		if err := n.add(e, Hash(b), next, c.Len()); err != nil {
			return nil, &EntryError{e.Seq, err}
		}
		next++
	}
	return n, nil
}

// clone copies c so that adding to the copy leaves c intact.
func (c *Chain) clone() *Chain {
	n := *c
	n.hashes = slices.Clip(c.hashes)
	n.signed = slices.Clip(c.signed)
	n.commits = slices.Clip(c.commits)
	n.devices = maps.Clone(c.devices)
	n.removed = maps.Clone(c.removed)
	if n.devices == nil {
		n.devices, n.removed = map[string]Member{}, map[string]uint64{}
	}
	n.history = c.history.clone()
	n.webState = c.webState.clone()
	return &n
}

// add checks one parsed entry, which must have sequence number next,
// against the state and applies it. Entries below trusted (the length of
// the chain Extend started from) must be ones the state already holds.
func (c *Chain) add(e *Entry, h [sha256.Size]byte, next, trusted uint64) error {
	if e.Account != c.account {
		return fmt.Errorf("account %q, want %q: %w", e.Account, c.account, ErrWrongAccount)
	}
	if e.Seq != next {
		return fmt.Errorf("sequence number %d where %d was expected: %w", e.Seq, next, ErrOutOfOrder)
	}
	if (e.Type == TypeGenesis) != (e.Seq == 0) {
		return fmt.Errorf("%s entry at position %d (genesis comes first, and only there): %w", e.Type, e.Seq, ErrOutOfOrder)
	}
	if e.Seq < trusted {
		if c.hashes[e.Seq] != h {
			return fmt.Errorf("hash %x differs from the verified entry's %x: %w", h[:8], c.hashes[e.Seq][:8], ErrFork)
		}
		return nil
	}
	if head := c.Head(); e.Prev != head {
		cause := ErrBadLink
		if e.Seq == trusted && trusted > 0 {
			cause = ErrFork
		}
		return fmt.Errorf("previous hash %x, want %x: %w", e.Prev[:8], head[:8], cause)
	}
	if err := c.checkSignatures(e); err != nil {
		return err
	}
	if err := c.checkRights(e); err != nil {
		return err
	}
	if err := c.apply(e); err != nil {
		return err
	}
	c.hashes = append(c.hashes, h)
	c.signed = append(c.signed, sha256.Sum256(e.signedPart()))
	return nil
}

// checkSignatures verifies the signer's standing and both signatures.
func (c *Chain) checkSignatures(e *Entry) error {
	key, err := c.signerKey(e)
	if err != nil || c.replaying {
		return err
	}
	if !ed25519.Verify(key, e.message(labelSign), e.Sig) {
		return fmt.Errorf("%s entry signed by %s: %w", e.Type, e.Signer, ErrBadSignature)
	}
	switch {
	case e.Type.adds() && !ed25519.Verify(e.Device.Sign, e.message(labelCounter), e.Countersig):
		return fmt.Errorf("countersignature of added device %s: %w", e.Device.ID, ErrBadSignature)
	case (e.Type == TypeGenesis || e.Type == TypeRotateRecovery) && !ed25519.Verify(e.Recovery, e.message(labelCounter), e.Countersig):
		return fmt.Errorf("countersignature of the %s entry's recovery key: %w", e.Type, ErrBadSignature)
	case e.Type == TypeWebSession && !ed25519.Verify(e.Session.Sign, e.message(labelCounter), e.Countersig):
		return fmt.Errorf("countersignature of browser session %s: %w", e.Session.ID, ErrBadSignature)
	}
	return nil
}

// signerKey returns the public key the entry's signature must verify under.
func (c *Chain) signerKey(e *Entry) (ed25519.PublicKey, error) {
	if e.Type == TypeGenesis {
		if e.Signer != e.Device.ID {
			return nil, fmt.Errorf("genesis signed by %s, not by its device %s: %w", e.Signer, e.Device.ID, ErrUnknownSigner)
		}
		return e.Device.Sign, nil
	}
	if e.Signer == Recovery {
		return c.recovery, nil
	}
	if m, ok := c.devices[e.Signer]; ok {
		return m.Public.Sign, nil
	}
	if seq, ok := c.removed[e.Signer]; ok {
		return nil, fmt.Errorf("signer %s was removed at entry %d: %w", e.Signer, seq, ErrRemovedSigner)
	}
	return nil, fmt.Errorf("signer %s: %w", e.Signer, ErrUnknownSigner)
}

// apply checks that e makes sense in the current state and applies it.
func (c *Chain) apply(e *Entry) error {
	switch e.Type {
	case TypeGenesis:
		if e.Epoch != 0 {
			return fmt.Errorf("genesis with epoch %d: %w", e.Epoch, ErrInvalid)
		}
		c.recovery = e.Recovery
		c.commits = append(c.commits, e.Commit)
		return c.addDevice(e, e.Device.ID)
	case TypeAddDevice, TypeAddAppendOnly:
		return c.addDevice(e, e.Signer)
	case TypeSnapshot:
		return c.recordSnapshot(e)
	case TypeForget:
		return c.forget(e)
	case TypePrunePlan:
		return c.recordPlan(e)
	case TypeRemoveDevice:
		return c.removeDevice(e)
	case TypeRotateKey:
		return c.newEpoch(e)
	case TypeRotateRecovery:
		c.recovery = e.Recovery
	case TypeSetContacts:
		c.contacts, c.threshold, c.contactsAt = e.Contacts, e.Threshold, e.Seq
	case TypeWebAccess, TypeWebSession, TypeRevokeSession:
		return c.applyWeb(e)
	}
	return nil
}

func (c *Chain) addDevice(e *Entry, by string) error {
	id := e.Device.ID
	if _, ok := c.devices[id]; ok {
		return fmt.Errorf("device %s is already in the chain: %w", id, ErrDuplicateDevice)
	}
	if _, ok := c.sessions[id]; ok {
		return fmt.Errorf("device %s has a browser session's key: %w", id, ErrDuplicateDevice)
	}
	if seq, ok := c.removed[id]; ok {
		return fmt.Errorf("device %s was removed at entry %d and cannot return: %w", id, seq, ErrDuplicateDevice)
	}
	if len(c.devices) >= MaxDevices {
		return fmt.Errorf("chain already has %d devices: %w", MaxDevices, ErrInvalid)
	}
	rights := Full
	if e.Type == TypeAddAppendOnly {
		rights = AppendOnly
	}
	c.devices[id] = Member{Public: e.Device, Rights: rights, AddedBy: by, AddedAt: e.Seq, AddedTime: e.Time}
	return nil
}

func (c *Chain) removeDevice(e *Entry) error {
	if _, ok := c.devices[e.Remove]; !ok {
		return fmt.Errorf("device %s to remove is not in the chain: %w", e.Remove, ErrInvalid)
	}
	if len(c.devices) == 1 {
		return fmt.Errorf("device %s is the last one: %w", e.Remove, ErrInvalid)
	}
	if err := c.newEpoch(e); err != nil {
		return err
	}
	delete(c.devices, e.Remove)
	c.removed[e.Remove] = e.Seq
	c.endSessions(e.Seq, func(s Session) bool { return s.Approver == e.Remove })
	return nil
}

func (c *Chain) newEpoch(e *Entry) error {
	if e.Epoch != c.Epoch()+1 {
		return fmt.Errorf("epoch %d does not follow epoch %d: %w", e.Epoch, c.Epoch(), ErrInvalid)
	}
	c.commits = append(c.commits, e.Commit)
	return nil
}

// Account returns the account the chain belongs to.
func (c *Chain) Account() string { return c.account }

// Len returns the number of entries verified.
func (c *Chain) Len() uint64 { return uint64(len(c.hashes)) }

// Head returns the hash of the last entry, or zero for an empty chain.
func (c *Chain) Head() [sha256.Size]byte {
	if len(c.hashes) == 0 {
		return [sha256.Size]byte{}
	}
	return c.hashes[len(c.hashes)-1]
}

// Device returns the current member with the given DeviceID.
func (c *Chain) Device(id string) (Member, bool) {
	m, ok := c.devices[id]
	return m, ok
}

// Devices returns the current members in DeviceID order.
func (c *Chain) Devices() []Member {
	ids := slices.Sorted(maps.Keys(c.devices))
	out := make([]Member, len(ids))
	for i, id := range ids {
		out[i] = c.devices[id]
	}
	return out
}

// Removed reports whether the device was removed, and by which entry.
func (c *Chain) Removed(id string) (seq uint64, ok bool) {
	seq, ok = c.removed[id]
	return seq, ok
}

// Recovery returns the current recovery signing public key.
func (c *Chain) Recovery() ed25519.PublicKey { return slices.Clone(c.recovery) }

// Contacts returns the recovery contacts and the threshold k of them
// needed; both are empty until a set-contacts entry names some.
func (c *Chain) Contacts() ([]keys.DevicePublic, int) {
	return slices.Clone(c.contacts), c.threshold
}

// ContactsSeq returns the sequence number of the entry that set the
// current contacts, or 0 if none did.
func (c *Chain) ContactsSeq() uint64 { return c.contactsAt }

// Epoch returns the current root-key epoch: 0 from genesis, one more at
// each key rotation or device removal.
func (c *Chain) Epoch() uint64 { return uint64(len(c.commits)) - 1 }

// Commitment returns the root-key commitment recorded for an epoch.
func (c *Chain) Commitment(epoch uint64) ([sha256.Size]byte, bool) {
	if epoch >= uint64(len(c.commits)) {
		return [sha256.Size]byte{}, false
	}
	return c.commits[epoch], true
}

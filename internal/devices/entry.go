// Package devices implements an account's device chain (docs/devices.md):
// an append-only, hash-chained list of signed entries that says which
// devices belong to the account, which recovery key and recovery contacts
// it has, and which root-key epoch is current. Every entry is signed by a
// device already in the chain or by the recovery key, and a device an
// entry adds countersigns it, so a store or server that keeps the chain can
// withhold or roll it back but can author nothing in it.
//
// The package does no I/O: it encodes, parses and verifies bytes. Parsers
// bound every size before allocating, and nothing they read can make them
// panic.
package devices

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/coffer-backup/coffer/internal/binread"
	"strings"
	"time"

	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/keys"
)

// Limits (docs/devices.md §D.2). MaxEntrySize is checked before anything
// else is read; the largest valid entry (a forget of MaxForget IDs with a
// 255-byte account ID) is 32 389 bytes.
const (
	MaxEntrySize  = 32 << 10
	MaxDevices    = 64
	MaxContacts   = 16
	MaxChainLen   = 1 << 20
	MaxForget     = 1000 // snapshot IDs in one forget entry
	entryVersion  = 1
	idSize        = 16 // raw bytes of a DeviceID
	signerDevice  = 1
	signerRecover = 2
)

// Recovery is the Signer of an entry signed by the recovery key.
const Recovery = "recovery"

// Domain-separation labels of the two signatures (docs/devices.md §D.3).
const (
	labelSign    = "coffer v1 device chain"
	labelCounter = "coffer v1 device chain countersignature"
)

// Type is the kind of a chain entry.
type Type uint8

// Entry types (docs/devices.md §D.1).
const (
	TypeGenesis        Type = 1  // first device, recovery key, epoch 0
	TypeAddDevice      Type = 2  // a new device, countersigned by it
	TypeRemoveDevice   Type = 3  // a device leaves; a new epoch starts
	TypeRotateKey      Type = 4  // a new root-key epoch
	TypeRotateRecovery Type = 5  // a new recovery public key
	TypeSetContacts    Type = 6  // recovery contacts and threshold
	TypeAddAppendOnly  Type = 7  // a new append-only device, countersigned by it
	TypeSnapshot       Type = 8  // a snapshot a device wrote
	TypeForget         Type = 9  // snapshots a full device forgot
	TypePrunePlan      Type = 10 // a prune plan a full device wrote
	TypeWebAccess      Type = 11 // web access turned on or off
	TypeWebSession     Type = 12 // a browser session, countersigned by the browser's key
	TypeRevokeSession  Type = 13 // a browser session ended early
)

var typeNames = map[Type]string{
	TypeGenesis: "genesis", TypeAddDevice: "add device", TypeRemoveDevice: "remove device",
	TypeRotateKey: "rotate key", TypeRotateRecovery: "rotate recovery key", TypeSetContacts: "set recovery contacts",
	TypeAddAppendOnly: "add append-only device", TypeSnapshot: "snapshot", TypeForget: "forget snapshots",
	TypePrunePlan: "prune plan", TypeWebAccess: "web access", TypeWebSession: "browser session",
	TypeRevokeSession: "revoke browser session",
}

// adds reports whether entries of type t add a device.
func (t Type) adds() bool { return t == TypeAddDevice || t == TypeAddAppendOnly }

// ObjectID is the ID of a stored object an entry names: a snapshot or a
// prune plan (docs/format.md §4: the SHA-256 of its bytes).
type ObjectID = [sha256.Size]byte

// String names the type as error messages and listings show it.
func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// Errors an entry is refused with, each wrapped in an *EntryError.
var (
	ErrMalformed          = errors.New("malformed device chain entry")
	ErrWrongAccount       = errors.New("entry belongs to another account")
	ErrOutOfOrder         = errors.New("entry out of order")
	ErrBadLink            = errors.New("previous-entry hash does not match")
	ErrFork               = errors.New("chain forks from the verified chain")
	ErrUnknownSigner      = errors.New("signer is not a device of the chain")
	ErrRemovedSigner      = errors.New("signer was removed from the chain")
	ErrBadSignature       = errors.New("signature does not verify")
	ErrMissingCountersign = errors.New("countersignature is missing")
	ErrDuplicateDevice    = errors.New("device is already, or was, in the chain")
	ErrInvalid            = errors.New("entry is not valid in this chain state")
	ErrNoRight            = errors.New("signer does not have the right to sign this entry")
)

// EntryError says which entry was refused. Seq is the sequence number the
// entry carries, or the one expected at its position when it does not parse.
type EntryError struct {
	Seq uint64
	Err error
}

func (e *EntryError) Error() string { return fmt.Sprintf("device chain entry %d: %v", e.Seq, e.Err) }

// Unwrap returns the cause, which wraps one of the Err values above.
func (e *EntryError) Unwrap() error { return e.Err }

// Entry is one parsed chain entry. Which body fields are set depends on
// Type; the others are zero. An Entry from Parse is well formed and its
// device records verify, but its signatures are checked only by Verify and
// Extend, against a chain state.
type Entry struct {
	Account string
	Seq     uint64
	Prev    [sha256.Size]byte // SHA-256 of the previous entry's encoding; zero for genesis
	Time    time.Time         // signer's clock, whole seconds, informational
	Type    Type

	Device    keys.DevicePublic   // genesis, add device, add append-only device
	Recovery  ed25519.PublicKey   // genesis, rotate recovery key
	Remove    string              // remove device: its DeviceID
	Epoch     uint64              // genesis (0), remove device, rotate key
	Commit    [sha256.Size]byte   // root-key commitment of Epoch (KeyCommitment)
	Threshold int                 // set contacts: k
	Contacts  []keys.DevicePublic // set contacts: the n contacts
	Object    ObjectID            // snapshot, prune plan: the object's ID
	Forget    []ObjectID          // forget snapshots: their IDs, distinct
	Web       bool                // web access: on
	Session   WebSession          // browser session; revoke session: only its ID

	Signer     string // DeviceID of the signing device, or Recovery
	Sig        []byte // Ed25519 over labelSign || 0x00 || signed part
	Countersig []byte // genesis, add device, rotate recovery key: by the key introduced, over labelCounter || 0x00 || signed part
}

// Hash returns the SHA-256 of an entry's encoding, the value the next
// entry's Prev and a chain's Head hold.
func Hash(entry []byte) [sha256.Size]byte { return sha256.Sum256(entry) }

// signedPart returns the encoding of e up to and including the signer.
func (e *Entry) signedPart() []byte {
	b := make([]byte, 0, 2048)
	b = append(b, entryVersion, byte(e.Type))
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = append(b, e.Prev[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.Unix()))
	b = append(b, byte(len(e.Account)))
	b = append(b, e.Account...)
	b = e.appendBody(b)
	if e.Signer == Recovery {
		return append(b, signerRecover)
	}
	id, _ := hex.DecodeString(e.Signer) // checked by the builders and the parser
	return append(append(b, signerDevice), id...)
}

func (e *Entry) appendBody(b []byte) []byte {
	switch e.Type {
	case TypeGenesis:
		b = keys.AppendPublic(b, e.Device)
		b = append(b, e.Recovery...)
		return e.appendEpoch(b)
	case TypeAddDevice, TypeAddAppendOnly:
		return keys.AppendPublic(b, e.Device)
	case TypeSnapshot, TypePrunePlan:
		return append(b, e.Object[:]...)
	case TypeForget:
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.Forget)))
		for _, id := range e.Forget {
			b = append(b, id[:]...)
		}
		return b
	case TypeRemoveDevice:
		id, _ := hex.DecodeString(e.Remove)
		return e.appendEpoch(append(b, id...))
	case TypeRotateKey:
		return e.appendEpoch(b)
	case TypeRotateRecovery:
		return append(b, e.Recovery...)
	case TypeWebAccess:
		if e.Web {
			return append(b, 1)
		}
		return append(b, 0)
	case TypeWebSession:
		return appendSession(b, &e.Session)
	case TypeRevokeSession:
		id, _ := hex.DecodeString(e.Session.ID)
		return append(b, id...)
	case TypeSetContacts:
		b = append(b, byte(e.Threshold), byte(len(e.Contacts)))
		for _, c := range e.Contacts {
			b = keys.AppendPublic(b, c)
		}
	}
	return b
}

func (e *Entry) appendEpoch(b []byte) []byte {
	return append(binary.BigEndian.AppendUint64(b, e.Epoch), e.Commit[:]...)
}

// Marshal returns the canonical encoding of e (docs/devices.md §D.1).
func (e *Entry) Marshal() []byte {
	b := append(e.signedPart(), e.Sig...)
	return append(b, e.Countersig...)
}

// message returns label || 0x00 || signed part: what a signature covers.
func (e *Entry) message(label string) []byte { return crypt.AD(label, e.signedPart()) }

// countersigned reports whether entries of type t carry a countersignature
// (docs/devices.md §D.3): by the added device, or by the recovery key the
// entry introduces.
func (t Type) countersigned() bool {
	return t == TypeGenesis || t.adds() || t == TypeRotateRecovery || t == TypeWebSession
}

// Parse decodes one entry, refusing anything that is not in canonical form
// or whose device records do not verify (docs/devices.md §D.1). Errors wrap
// ErrMalformed or ErrMissingCountersign.
func Parse(b []byte) (*Entry, error) {
	if len(b) > MaxEntrySize {
		return nil, fmt.Errorf("%d bytes exceed %d: %w", len(b), MaxEntrySize, ErrMalformed)
	}
	r := binread.New(b, ErrMalformed)
	if v := r.U8(); r.Err() == nil && v != entryVersion {
		return nil, fmt.Errorf("version %d is not supported (want %d): %w", v, entryVersion, ErrMalformed)
	}
	e := &Entry{Type: Type(r.U8()), Seq: r.U64()}
	copy(e.Prev[:], r.Take(sha256.Size))
	t := r.U64()
	e.Account = string(r.Take(int(r.U8())))
	if r.Err() != nil {
		return nil, r.Err()
	}
	if t > 1<<62 {
		return nil, fmt.Errorf("time %d out of range: %w", t, ErrMalformed)
	}
	e.Time = time.Unix(int64(t), 0).UTC()
	if err := checkAccount(e.Account); err != nil {
		return nil, err
	}
	if err := e.readBody(r); err != nil {
		return nil, err
	}
	if err := e.readSignatures(r); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Entry) readBody(r *binread.Reader) error {
	var err error
	switch e.Type {
	case TypeGenesis:
		if e.Device, err = readRecord(r); err == nil {
			e.Recovery = r.Take(ed25519.PublicKeySize)
			e.readEpoch(r)
		}
	case TypeAddDevice, TypeAddAppendOnly:
		e.Device, err = readRecord(r)
	case TypeSnapshot, TypePrunePlan:
		copy(e.Object[:], r.Take(sha256.Size))
	case TypeForget:
		err = e.readForget(r)
	case TypeRemoveDevice:
		e.Remove = hex.EncodeToString(r.Take(idSize))
		e.readEpoch(r)
	case TypeRotateKey:
		e.readEpoch(r)
	case TypeRotateRecovery:
		e.Recovery = r.Take(ed25519.PublicKeySize)
	case TypeSetContacts:
		err = e.readContacts(r)
	case TypeWebAccess:
		e.Web, err = readWebAccess(r)
	case TypeWebSession:
		e.Session, err = readSession(r)
	case TypeRevokeSession:
		e.Session.ID = hex.EncodeToString(r.Take(idSize))
	default:
		return fmt.Errorf("unknown entry type %d: %w", e.Type, ErrMalformed)
	}
	if err != nil {
		return err
	}
	return r.Err()
}

func (e *Entry) readEpoch(r *binread.Reader) {
	e.Epoch = r.U64()
	copy(e.Commit[:], r.Take(sha256.Size))
}

// readForget reads a forget entry's IDs: 1 to MaxForget, distinct.
func (e *Entry) readForget(r *binread.Reader) error {
	n := int(r.U16())
	if r.Err() != nil {
		return r.Err()
	}
	if n == 0 || n > MaxForget {
		return fmt.Errorf("forget entry with %d IDs (1 to %d): %w", n, MaxForget, ErrMalformed)
	}
	seen := make(map[ObjectID]bool, n)
	for range n {
		var id ObjectID
		copy(id[:], r.Take(sha256.Size))
		if seen[id] {
			return fmt.Errorf("snapshot %x listed twice: %w", id[:8], ErrMalformed)
		}
		seen[id] = true
		e.Forget = append(e.Forget, id)
	}
	return r.Err()
}

func (e *Entry) readContacts(r *binread.Reader) error {
	e.Threshold = int(r.U8())
	n := int(r.U8())
	if r.Err() != nil {
		return r.Err()
	}
	if n > MaxContacts || e.Threshold > n || (n > 0 && e.Threshold == 0) {
		return fmt.Errorf("threshold %d of %d contacts (at most %d, 1 <= k <= n unless both are 0): %w",
			e.Threshold, n, MaxContacts, ErrMalformed)
	}
	seen := make(map[string]bool, n)
	for range n {
		c, err := readRecord(r)
		if err != nil {
			return err
		}
		if seen[c.ID] {
			return fmt.Errorf("contact %s listed twice: %w", c.ID, ErrMalformed)
		}
		seen[c.ID] = true
		e.Contacts = append(e.Contacts, c)
	}
	return nil
}

func (e *Entry) readSignatures(r *binread.Reader) error {
	switch tag := r.U8(); {
	case r.Err() != nil:
		return r.Err()
	case tag == signerRecover && e.Type != TypeGenesis:
		e.Signer = Recovery
	case tag == signerDevice:
		e.Signer = hex.EncodeToString(r.Take(idSize))
	default:
		return fmt.Errorf("signer tag %d not valid for a %s entry: %w", tag, e.Type, ErrMalformed)
	}
	e.Sig = r.Take(ed25519.SignatureSize)
	if e.Type.countersigned() {
		if r.Err() == nil && r.Len() == 0 {
			return fmt.Errorf("%s entry: %w", e.Type, ErrMissingCountersign)
		}
		e.Countersig = r.Take(ed25519.SignatureSize)
	}
	return r.End()
}

// readRecord parses and verifies a device public record (format.md §2.4.1).
func readRecord(r *binread.Reader) (keys.DevicePublic, error) {
	p, err := keys.ReadPublic(r)
	if err != nil && !errors.Is(err, ErrMalformed) {
		err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return p, err
}

// checkAccount applies the account ID rule of docs/format.md §2.6.
func checkAccount(id string) error {
	if len(id) == 0 || len(id) > keys.MaxAccountIDSize || strings.IndexByte(id, 0) >= 0 {
		return fmt.Errorf("account ID must be 1 to %d bytes without NUL: %w", keys.MaxAccountIDSize, ErrMalformed)
	}
	return nil
}

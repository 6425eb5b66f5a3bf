package pairing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/coffer-backup/coffer/internal/binread"
	"github.com/coffer-backup/coffer/internal/keys"
)

// Limits of an Offer (docs/pairing.md §P.5). A chain entry is at most
// MaxEntrySize bytes (docs/devices.md §D.2), and the whole Offer must fit
// in MaxMessage, so in practice a chain of a few dozen entries is the most
// an Offer can carry, well below MaxEntries.
const (
	MaxEntries   = 1024
	MaxEntrySize = 32 << 10
	maxAccount   = 255
)

// ErrMalformed is wrapped by every error of the Parse functions and of
// Marshal methods refusing a value that its Parse would refuse.
var ErrMalformed = errors.New("malformed pairing message")

// Join is the message of slot 1: the joining device's public record.
type Join struct {
	Device keys.DevicePublic
}

// Marshal encodes j as a device public record (docs/format.md §2.4.1),
// after checking that it verifies, so that ParseJoin accepts it.
func (j Join) Marshal() ([]byte, error) {
	if err := j.Device.Verify(); err != nil {
		return nil, fmt.Errorf("join message: %w", err)
	}
	return keys.AppendPublic(nil, j.Device), nil
}

// ParseJoin decodes and verifies a Join: exactly one device public record
// that passes keys' checks (self-consistent ID, key sizes, binding
// signature, printable name).
func ParseJoin(b []byte) (Join, error) {
	r := binread.New(b, keys.ErrMalformed)
	p, err := keys.ReadPublic(r)
	if err == nil {
		err = r.End()
	}
	if err != nil {
		return Join{}, fmt.Errorf("join message: %w: %w", ErrMalformed, err)
	}
	return Join{Device: p}, nil
}

// Offer is the message of slot 2: the account to join, every entry of its
// device chain in order, and the signed part of the add-device entry that
// the joining device must countersign (docs/devices.md §D.1, §D.3).
type Offer struct {
	Account string   // account ID, 1 to 255 bytes without 0x00
	Entries [][]byte // 1 to MaxEntries chain entries, each 1 to MaxEntrySize bytes
	Signed  []byte   // 1 to MaxEntrySize bytes
}

// Marshal encodes o (docs/pairing.md §P.5.2), refusing a value outside the
// limits or longer than MaxMessage.
func (o Offer) Marshal() ([]byte, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	b := append([]byte{byte(len(o.Account))}, o.Account...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(o.Entries)))
	for _, e := range o.Entries {
		b = appendBytes(b, e)
	}
	b = appendBytes(b, o.Signed)
	if len(b) > MaxMessage {
		return nil, fmt.Errorf("offer message of %d bytes (%d chain entries) exceeds %d: %w", len(b), len(o.Entries), MaxMessage, ErrTooLarge)
	}
	return b, nil
}

// check enforces the limits of an Offer's fields.
func (o Offer) check() error {
	switch {
	case len(o.Account) < 1 || len(o.Account) > maxAccount || strings.Contains(o.Account, "\x00"):
		return fmt.Errorf("offer message: account ID must be 1 to %d bytes without 0x00: %w", maxAccount, ErrMalformed)
	case len(o.Entries) < 1 || len(o.Entries) > MaxEntries:
		return fmt.Errorf("offer message: %d chain entries, want 1 to %d: %w", len(o.Entries), MaxEntries, ErrMalformed)
	case !entrySize(o.Signed):
		return fmt.Errorf("offer message: signed part of %d bytes, want 1 to %d: %w", len(o.Signed), MaxEntrySize, ErrMalformed)
	}
	for i, e := range o.Entries {
		if !entrySize(e) {
			return fmt.Errorf("offer message: chain entry %d of %d bytes, want 1 to %d: %w", i, len(e), MaxEntrySize, ErrMalformed)
		}
	}
	return nil
}

// ParseOffer decodes an Offer, checking every limit before allocating.
func ParseOffer(b []byte) (Offer, error) {
	if len(b) > MaxMessage {
		return Offer{}, fmt.Errorf("offer message of %d bytes exceeds %d: %w", len(b), MaxMessage, ErrMalformed)
	}
	r := binread.New(b, ErrMalformed)
	var o Offer
	o.Account = string(r.Take(int(r.U8())))
	n := r.U32()
	if n < 1 || n > MaxEntries {
		r.Fail(fmt.Errorf("%d chain entries, want 1 to %d: %w", n, MaxEntries, ErrMalformed))
	}
	for i := uint32(0); i < n && r.Err() == nil; i++ {
		o.Entries = append(o.Entries, takeBytes(r))
	}
	o.Signed = takeBytes(r)
	if err := r.End(); err != nil {
		return Offer{}, fmt.Errorf("offer message: %w", err)
	}
	if err := o.check(); err != nil {
		return Offer{}, err
	}
	return o, nil
}

// Countersign is the message of slot 3: the joining device's Ed25519
// countersignature of Offer.Signed (docs/devices.md §D.3).
type Countersign struct {
	Sig [ed25519.SignatureSize]byte
}

// Marshal returns the 64 signature bytes.
func (c Countersign) Marshal() []byte { return bytes.Clone(c.Sig[:]) }

// ParseCountersign decodes a Countersign: exactly 64 bytes.
func ParseCountersign(b []byte) (Countersign, error) {
	var c Countersign
	if len(b) != len(c.Sig) {
		return c, fmt.Errorf("countersign message of %d bytes, want %d: %w", len(b), len(c.Sig), ErrMalformed)
	}
	copy(c.Sig[:], b)
	return c, nil
}

// Done is the message of slot 4: the hash of the add-device entry the
// adder appended to the chain (SHA-256 of its whole encoding, §D.1).
type Done struct {
	Hash [sha256.Size]byte
}

// Marshal returns the 32 hash bytes.
func (d Done) Marshal() []byte { return bytes.Clone(d.Hash[:]) }

// ParseDone decodes a Done: exactly 32 bytes.
func ParseDone(b []byte) (Done, error) {
	var d Done
	if len(b) != len(d.Hash) {
		return d, fmt.Errorf("done message of %d bytes, want %d: %w", len(b), len(d.Hash), ErrMalformed)
	}
	copy(d.Hash[:], b)
	return d, nil
}

// appendBytes appends len(v) as 4 bytes big-endian, then v.
func appendBytes(b, v []byte) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(v))), v...)
}

// takeBytes reads what appendBytes wrote, refusing a length outside
// 1..MaxEntrySize before taking it.
func takeBytes(r *binread.Reader) []byte {
	n := r.U32()
	if n < 1 || n > MaxEntrySize {
		r.Fail(fmt.Errorf("field of %d bytes, want 1 to %d: %w", n, MaxEntrySize, ErrMalformed))
		return nil
	}
	return r.Take(int(n))
}

// entrySize reports whether b is 1 to MaxEntrySize bytes long.
func entrySize(b []byte) bool { return len(b) >= 1 && len(b) <= MaxEntrySize }

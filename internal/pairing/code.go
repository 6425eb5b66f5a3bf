// Package pairing holds the client side of adding a device to an account
// and of recovery contacts, without I/O (docs/pairing.md): the pairing code
// a user types on the new device, the rendezvous ID and the sealed messages
// derived from it, the codecs of the four messages, and the typable share
// code a recovery contact reads out.
//
// Everything a parser here reads may come from a hostile server: sizes are
// checked before anything is allocated, encodings are canonical, and
// nothing read can make the package panic. Errors never contain a code.
package pairing

import (
	"io"

	"github.com/coffer-backup/coffer/internal/mailbox"
	"github.com/coffer-backup/coffer/internal/typable"
)

// Sizes and limits (docs/pairing.md §P.1, §P.3).
const (
	CodeSize   = mailbox.CodeSize   // random bytes of a pairing code
	MaxMessage = mailbox.MaxMessage // bytes of a message before sealing
)

// Slots of the pairing mailbox (docs/pairing.md §P.4).
const (
	SlotJoin        byte = 1 // new device → adder: Join
	SlotOffer       byte = 2 // adder → new device: Offer
	SlotCountersign byte = 3 // new device → adder: Countersign
	SlotDone        byte = 4 // adder → new device: Done
)

// scheme is pairing's use of the mailbox: its HKDF and AD labels
// (docs/pairing.md §P.3) and its 28-character codes (§P.2).
var scheme = &mailbox.Scheme{
	Form:     typable.Form{What: "pairing code", Size: CodeSize, Hash: 1},
	LabelID:  "coffer v1 pairing id",
	LabelKey: "coffer v1 pairing key",
	LabelAD:  "coffer v1 pairing",
	Slots:    SlotDone,
}

// Errors of Seal and Open, wrapped with context.
var (
	ErrSlot     = mailbox.ErrSlot
	ErrTooLarge = mailbox.ErrTooLarge
	ErrOpen     = mailbox.ErrOpen
)

// Code is a pairing code: 128 random bits, shown on the device that adds
// and typed on the device that joins. Both derive from it the rendezvous ID
// (Code.ID) and the key that seals every message of the pairing
// (Code.Seal, Code.Open; docs/pairing.md §P.3).
type Code = mailbox.Code

// NewCode draws a fresh pairing code from rand (crypto/rand.Reader outside
// tests).
func NewCode(rand io.Reader) (*Code, error) { return scheme.NewCode(rand) }

// ParseCode parses the typable form of a pairing code (docs/pairing.md
// §P.2), tolerating case, spaces and dashes; see mailbox.Scheme.ParseCode.
func ParseCode(s string) (*Code, error) { return scheme.ParseCode(s) }

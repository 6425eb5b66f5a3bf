package pairing

import (
	"fmt"

	"github.com/coffer-backup/coffer/internal/shamir"
	"github.com/coffer-backup/coffer/internal/typable"
)

// Sizes of a share code's payload (docs/pairing.md §P.7).
const (
	AccountSize = 16 // raw bytes of an account ID
	ShareSize   = 32 // bytes of a share's Y: the contacts' secret is 32 bytes
)

var shareForm = typable.Form{What: "share code", Size: AccountSize + 1 + ShareSize, Hash: 4}

// ShareCode is what a recovery contact reads out to the owner: the owner's
// account ID and one Shamir share of the contacts' secret, typable with a
// checksum.
type ShareCode struct {
	account [AccountSize]byte
	x       byte
	y       [ShareSize]byte
}

// NewShareCode returns the share code of a share with a nonzero X and a Y
// of ShareSize bytes for the given account.
func NewShareCode(account [AccountSize]byte, s shamir.Share) (*ShareCode, error) {
	if s.X == 0 || len(s.Y) != ShareSize {
		return nil, fmt.Errorf("share code: share needs X != 0 and %d bytes, has X = %d and %d bytes: %w", ShareSize, s.X, len(s.Y), ErrMalformed)
	}
	c := &ShareCode{account: account, x: s.X}
	copy(c.y[:], s.Y)
	return c, nil
}

// Account returns the raw account ID.
func (c *ShareCode) Account() [AccountSize]byte { return c.account }

// Share returns a copy of the share.
func (c *ShareCode) Share() shamir.Share {
	return shamir.Share{X: c.x, Y: append([]byte(nil), c.y[:]...)}
}

// String returns the typable form: 84 upper-case Crockford base32
// characters in 21 groups of 4 joined by dashes.
func (c *ShareCode) String() string {
	b := c.payload()
	defer clear(b)
	return shareForm.Encode(b)
}

// ParseShareCode parses the typable form with the tolerance and the errors
// of ParseCode; a share with X = 0 wraps ErrMalformed.
func ParseShareCode(s string) (*ShareCode, error) {
	b, err := shareForm.Parse(s)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	var c ShareCode
	copy(c.account[:], b)
	c.x = b[AccountSize]
	copy(c.y[:], b[AccountSize+1:])
	if c.x == 0 {
		c.Zero()
		return nil, fmt.Errorf("share code: share number 0: %w", ErrMalformed)
	}
	return &c, nil
}

// Zero overwrites the share. The ShareCode must not be used afterwards.
func (c *ShareCode) Zero() { clear(c.y[:]) }

// payload returns account (16) || X (1) || Y (32).
func (c *ShareCode) payload() []byte {
	b := make([]byte, 0, shareForm.Size)
	b = append(append(b, c.account[:]...), c.x)
	return append(b, c.y[:]...)
}

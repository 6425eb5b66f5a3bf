package account

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/pairing"
	"github.com/coffer-backup/coffer/internal/store"
)

// Relay is the server's pairing mailbox (docs/api.md, Pairing): it carries
// sealed messages between two devices and learns nothing from them.
type Relay interface {
	CreatePairing(ctx context.Context, id string, ttl time.Duration) error
	PutPairing(ctx context.Context, id string, slot int, body []byte) error
	// GetPairing waits up to wait for the slot; false means still empty.
	GetPairing(ctx context.Context, id string, slot int, wait time.Duration) ([]byte, bool, error)
}

// ErrPairingTimeout means the other device did not answer in time.
var ErrPairingTimeout = errors.New("the other device did not answer in time")

// pollWait is how long one mailbox read waits on the server.
const pollWait = 25 * time.Second

// mailboxCode is a code that names a mailbox and seals its messages: a
// pairing code or a web session code.
type mailboxCode interface {
	ID() string
	Seal(slot byte, msg []byte) ([]byte, error)
	Open(slot byte, sealed []byte) ([]byte, error)
}

// receive waits until deadline for slot of the pairing and opens it.
func receive(ctx context.Context, relay Relay, code mailboxCode, slot byte, deadline time.Time) ([]byte, error) {
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, ErrPairingTimeout
		}
		asked := time.Now()
		body, ok, err := relay.GetPairing(ctx, code.ID(), int(slot), min(left, pollWait))
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: the pairing has expired", ErrPairingTimeout)
		}
		if err != nil {
			return nil, fmt.Errorf("waiting for pairing message %d: %w", slot, err)
		}
		if ok {
			msg, err := code.Open(slot, body)
			if err != nil {
				return nil, fmt.Errorf("pairing message %d does not open under the code (altered in transit?): %w", slot, err)
			}
			return msg, nil
		}
		// A server that answers "empty" at once instead of waiting must
		// not make the devices poll it in a tight loop.
		if err := pause(ctx, minPoll-time.Since(asked)); err != nil {
			return nil, err
		}
	}
}

// minPoll is the least time between two reads of a mailbox slot.
const minPoll = time.Second

// pause waits for d, or until ctx is done.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// send seals msg for slot and posts it.
func send(ctx context.Context, relay Relay, code mailboxCode, slot byte, msg []byte) error {
	sealed, err := code.Seal(slot, msg)
	if err != nil {
		return err
	}
	if err := relay.PutPairing(ctx, code.ID(), int(slot), sealed); err != nil {
		return fmt.Errorf("sending pairing message %d: %w", slot, err)
	}
	return nil
}

// Adder is the trusted device's side of adding a device (docs/pairing.md).
type Adder struct {
	Relay    Relay
	Chain    *Chain
	Me       *keys.Device
	Rights   devices.Rights // the new device's
	Deadline time.Time
	code     *pairing.Code
}

// Start opens a pairing on the server and returns the code to give to the
// new device.
func (a *Adder) Start(ctx context.Context) (string, error) {
	code, err := pairing.NewCode(rand.Reader)
	if err != nil {
		return "", err
	}
	if err := a.Relay.CreatePairing(ctx, code.ID(), time.Until(a.Deadline)); err != nil {
		code.Zero()
		return "", fmt.Errorf("opening a pairing on the server: %w", err)
	}
	a.code = code
	return code.String(), nil
}

// Wait receives the new device's identity, has it countersign the entry
// that adds it, and returns the complete entry. The caller writes the
// device's wrapped keys and appends the entry, then calls Done.
func (a *Adder) Wait(ctx context.Context) (keys.DevicePublic, []byte, error) {
	msg, err := receive(ctx, a.Relay, a.code, pairing.SlotJoin, a.Deadline)
	if err != nil {
		return keys.DevicePublic{}, nil, err
	}
	join, err := pairing.ParseJoin(msg)
	if err != nil {
		return keys.DevicePublic{}, nil, err
	}
	pending, err := a.Chain.PrepareAdd(devices.ByDevice(a.Me), join.Device, a.Rights, time.Now())
	if err != nil {
		return keys.DevicePublic{}, nil, err
	}
	offer, err := pairing.Offer{Account: a.Chain.Account(), Entries: a.Chain.Entries[:1], Signed: pending.SignedPart()}.Marshal()
	if err == nil {
		err = send(ctx, a.Relay, a.code, pairing.SlotOffer, offer)
	}
	if err != nil {
		return keys.DevicePublic{}, nil, err
	}
	msg, err = receive(ctx, a.Relay, a.code, pairing.SlotCountersign, a.Deadline)
	if err != nil {
		return keys.DevicePublic{}, nil, err
	}
	cs, err := pairing.ParseCountersign(msg)
	if err != nil {
		return keys.DevicePublic{}, nil, err
	}
	entry, err := pending.Finish(cs.Sig[:])
	return join.Device, entry, err
}

// Done tells the new device that its entry is in the chain.
func (a *Adder) Done(ctx context.Context, entry []byte) error {
	defer a.code.Zero()
	return send(ctx, a.Relay, a.code, pairing.SlotDone, pairing.Done{Hash: devices.Hash(entry)}.Marshal())
}

// Joined is what the new device learns while joining; Check verifies it
// against the chain the device reads once it has been added.
type Joined struct {
	Account    string
	genesis    []byte
	seq        uint64
	signedPart []byte
}

// Join is the new device's side: it sends dev's public identity under
// the code, countersigns the entry that adds exactly dev, and waits until
// the adder reports it appended.
func Join(ctx context.Context, relay Relay, code *pairing.Code, dev *keys.Device, deadline time.Time) (*Joined, error) {
	msg, err := pairing.Join{Device: dev.Public()}.Marshal()
	if err != nil {
		return nil, err
	}
	if err := send(ctx, relay, code, pairing.SlotJoin, msg); err != nil {
		return nil, err
	}
	if msg, err = receive(ctx, relay, code, pairing.SlotOffer, deadline); err != nil {
		return nil, err
	}
	offer, err := pairing.ParseOffer(msg)
	if err != nil {
		return nil, err
	}
	sig, seq, err := devices.Countersign(offer.Account, dev, offer.Signed)
	if err != nil {
		return nil, err
	}
	cs := pairing.Countersign{}
	copy(cs.Sig[:], sig)
	if err := send(ctx, relay, code, pairing.SlotCountersign, cs.Marshal()); err != nil {
		return nil, err
	}
	if _, err := receive(ctx, relay, code, pairing.SlotDone, deadline); err != nil {
		return nil, err
	}
	return &Joined{Account: offer.Account, genesis: offer.Entries[0], seq: seq, signedPart: offer.Signed}, nil
}

// Check accepts the chain a newly joined device read from the store only if
// it starts with the genesis the adder showed and holds the entry the
// device countersigned, which pins everything before it.
func (j *Joined) Check(c *Chain) error {
	if devices.Hash(c.Entries[0]) != devices.Hash(j.genesis) {
		return fmt.Errorf("the store's device chain has another genesis than the adding device's: %w", devices.ErrFork)
	}
	if !c.Holds(j.seq, j.signedPart) {
		return fmt.Errorf("the store's device chain lacks the entry that added this device (entry %d): %w", j.seq, devices.ErrFork)
	}
	return nil
}

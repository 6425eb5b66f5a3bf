package remote

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store"
)

// Rights a device may be given (docs/api.md, Devices).
const (
	RightsFull       = wire.RightsFull
	RightsAppendOnly = wire.RightsAppendOnly
)

// Enrollment is what a device presents to join an account: its public
// signing key, its name, and its signature proving that it holds the key.
type Enrollment struct {
	SignKey   ed25519.PublicKey
	Name      string
	Signature []byte // over "coffer v1 register" || 0x00 || account || 0x00 || device_id
}

// Enroll returns dev's enrollment in account, to be registered by dev
// itself (RegisterAccount) or added by an admin device (AddDevice).
func Enroll(account string, dev *keys.Device) Enrollment {
	pub := dev.Sign.Public().(ed25519.PublicKey)
	return Enrollment{SignKey: pub, Name: dev.Name, Signature: ed25519.Sign(dev.Sign, wire.RegisterMessage(account, dev.ID))}
}

func (e Enrollment) key() wire.DeviceKey { return wire.DeviceKey{SignKey: e.SignKey, Name: e.Name} }

// RegisterAccount creates account on the server with dev as its first
// device, holding every right. If a retry finds the account taken after an
// earlier try may have created it, RegisterAccount succeeds if dev can
// authenticate to it.
func (s *Store) RegisterAccount(ctx context.Context, account string, dev *keys.Device) error {
	if err := checkID("account", account); err != nil {
		return err
	}
	rq := &request{method: http.MethodPost, path: "/v1/accounts", what: "registering account " + account, anon: true}
	e := Enroll(account, dev)
	if err := rq.jsonBody(wire.RegisterRequest{Account: account, Device: e.key(), Signature: e.Signature}); err != nil {
		return err
	}
	if s.opts.RegistrationToken != "" {
		rq.header[wire.RegistrationHeader] = s.opts.RegistrationToken
	}
	_, err := s.callJSON(ctx, rq, nil)
	if errors.Is(err, store.ErrExists) && rq.ambiguous {
		if _, _, lerr := s.login(ctx, account, dev); lerr == nil {
			return nil
		}
	}
	return err
}

// DeviceInfo is a device of the account as the server records it.
type DeviceInfo = wire.DeviceInfo

// ListDevices returns the account's devices. What the server says is
// checked for shape only: device IDs must match their keys.
func (s *Store) ListDevices(ctx context.Context) ([]DeviceInfo, error) {
	rq := &request{method: http.MethodGet, path: "/v1/devices", what: "listing devices"}
	var out wire.DevicesResponse
	if _, err := s.callJSON(ctx, rq, &out); err != nil {
		return nil, err
	}
	for _, d := range out.Devices {
		if len(d.SignKey) != ed25519.PublicKeySize || keys.DeviceID(d.SignKey) != d.Device {
			return nil, fmt.Errorf("%s: malformed answer from %s: device %q does not match its key", rq.what, s.ep, d.Device)
		}
	}
	return out.Devices, nil
}

// AddDevice adds the enrolled device to the account with the given rights
// (RightsFull or RightsAppendOnly). This device needs the admin right. If
// a retry finds the device already there after an earlier try may have
// added it, AddDevice succeeds.
func (s *Store) AddDevice(ctx context.Context, e Enrollment, rights string) error {
	if rights != RightsFull && rights != RightsAppendOnly {
		return fmt.Errorf("unknown device rights %q", rights)
	}
	id := keys.DeviceID(e.SignKey)
	rq := &request{method: http.MethodPost, path: "/v1/devices", what: "adding device " + id}
	if err := rq.jsonBody(wire.AddDeviceRequest{Device: e.key(), Rights: rights, Signature: e.Signature}); err != nil {
		return err
	}
	_, err := s.callJSON(ctx, rq, nil)
	if err != nil && rq.ambiguous {
		if ds, lerr := s.ListDevices(ctx); lerr == nil && slices.ContainsFunc(ds, func(d DeviceInfo) bool { return d.Device == id && d.Revoked == nil }) {
			return nil
		}
	}
	return err
}

// RevokeDevice revokes device id: its tokens stop working at once. This
// device needs the admin right.
func (s *Store) RevokeDevice(ctx context.Context, id string) error {
	if err := checkID("device", id); err != nil {
		return err
	}
	rq := &request{method: http.MethodDelete, path: "/v1/devices/" + id, what: "revoking device " + id}
	_, err := s.callJSON(ctx, rq, nil)
	return err
}

package remote

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"

	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store"
)

// Rights a device may be given by AppendChainRights (docs/api.md,
// Principals).
const (
	RightsFull       = wire.RightsFull
	RightsAppendOnly = wire.RightsAppendOnly
)

// RegisterAccount creates account on the server from its device chain
// genesis entry: the entry's device becomes the account's first device,
// holding every right, and its recovery key the recovery principal. If a
// retry finds the account taken after an earlier try may have created it,
// RegisterAccount succeeds if the account's stored genesis is genesis
// (read with this Store's credentials, which must then be able to log in).
func (s *Store) RegisterAccount(ctx context.Context, account string, genesis []byte) error {
	if err := checkID("account", account); err != nil {
		return err
	}
	if len(genesis) == 0 || len(genesis) > store.MaxChainEntry {
		return fmt.Errorf("registering account %s: a genesis entry is 1 to %d bytes, not %d", account, store.MaxChainEntry, len(genesis))
	}
	rq := &request{method: http.MethodPost, path: "/v1/accounts", what: "registering account " + account, anon: true}
	if err := rq.jsonBody(wire.RegisterRequest{Account: account, Genesis: genesis}); err != nil {
		return err
	}
	if s.opts.RegistrationToken != "" {
		rq.header[wire.RegistrationHeader] = s.opts.RegistrationToken
	}
	_, err := s.callJSON(ctx, rq, nil)
	if errors.Is(err, store.ErrExists) && rq.ambiguous {
		if page, cerr := s.AccountChain(ctx, account, 0); cerr == nil && len(page) > 0 && bytes.Equal(page[0], genesis) {
			return nil
		}
	}
	return err
}

// DeviceInfo is a device of the account as the server records it.
type DeviceInfo = wire.DeviceInfo

// ListDevices returns the account's devices. What the server says is
// checked for shape only: device IDs must match their keys. The account's
// device chain, not this list, says which devices to trust.
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

package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store"
)

// slotPath is the URL path of a pairing slot.
func slotPath(id string, slot int) (string, error) {
	if err := checkID("pairing", id); err != nil {
		return "", err
	}
	if slot < 1 || slot > wire.PairingSlots {
		return "", fmt.Errorf("pairing slot %d is not 1 to %d", slot, wire.PairingSlots)
	}
	return fmt.Sprintf("/v1/pairings/%s/%d", id, slot), nil
}

// CreatePairing opens the pairing mailbox id (32 lower-case hex digits)
// for ttl, rounded up to whole seconds, 1 s to 1 h. This Store must be a
// full device. A taken id is an error wrapping store.ErrExists, except
// after a try that may have created it: ids are 128 random bits, so it is
// this one's.
func (s *Store) CreatePairing(ctx context.Context, id string, ttl time.Duration) error {
	if err := checkID("pairing", id); err != nil {
		return err
	}
	secs := int((ttl + time.Second - 1) / time.Second)
	if ttl <= 0 || secs > wire.MaxPairingTTL {
		return fmt.Errorf("pairing %s: a pairing lives 1 to %d seconds, not %v", id, wire.MaxPairingTTL, ttl)
	}
	rq := &request{method: http.MethodPost, path: "/v1/pairings", what: "creating pairing " + id}
	if err := rq.jsonBody(wire.PairingRequest{ID: id, TTL: secs}); err != nil {
		return err
	}
	_, err := s.callJSON(ctx, rq, nil)
	if errors.Is(err, store.ErrExists) && rq.ambiguous {
		return nil
	}
	return err
}

// PutPairing writes slot 1 to 4 of pairing id, once. Slots 1 and 3 need no
// credentials (the joining device, on a Store from OpenAnonymous); slots 2
// and 4 need a device of the account that created the pairing. An
// unknown or expired pairing is an error wrapping store.ErrNotFound, a
// written slot one wrapping store.ErrExists, unless an earlier try may
// have written it and it holds body.
func (s *Store) PutPairing(ctx context.Context, id string, slot int, body []byte) error {
	path, err := slotPath(id, slot)
	if err != nil {
		return err
	}
	if len(body) > wire.MaxPairingBody {
		return fmt.Errorf("pairing %s slot %d: %d bytes exceed %d", id, slot, len(body), wire.MaxPairingBody)
	}
	rq := &request{method: http.MethodPut, path: path, what: fmt.Sprintf("writing slot %d of pairing %s", slot, id), anon: slot%2 == 1,
		header: map[string]string{"Content-Type": "application/octet-stream"},
		body: func(int) (io.ReadCloser, int64, error) {
			return io.NopCloser(bytes.NewReader(body)), int64(len(body)), nil
		}}
	resp, err := s.do(ctx, rq)
	if err == nil {
		discard(resp)
		return nil
	}
	if errors.Is(err, store.ErrExists) && rq.ambiguous {
		if b, ok, gerr := s.GetPairing(ctx, id, slot, 0); gerr == nil && ok && bytes.Equal(b, body) {
			return nil
		}
	}
	return err
}

// GetPairing reads slot 1 to 4 of pairing id, waiting up to wait (at most
// 30 s, whole seconds) for it to be written; it needs no credentials. It
// returns false if the slot is still empty, and an error wrapping
// store.ErrNotFound for an unknown or expired pairing.
func (s *Store) GetPairing(ctx context.Context, id string, slot int, wait time.Duration) ([]byte, bool, error) {
	path, err := slotPath(id, slot)
	if err != nil {
		return nil, false, err
	}
	secs := min(max(int(wait/time.Second), 0), wire.MaxPairingWait)
	rq := &request{method: http.MethodGet, path: fmt.Sprintf("%s?wait=%d", path, secs), what: fmt.Sprintf("reading slot %d of pairing %s", slot, id),
		anon: true, wait: time.Duration(secs) * time.Second}
	b, status, err := s.getBytes(ctx, rq, wire.MaxPairingBody)
	if err != nil || status == http.StatusNoContent {
		return nil, false, err
	}
	return b, true, nil
}

// getBytes sends rq and reads its whole answer, refusing one over limit
// bytes. It returns the status too (204 has no body).
func (s *Store) getBytes(ctx context.Context, rq *request, limit int) ([]byte, int, error) {
	resp, err := s.do(ctx, rq)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	switch {
	case err != nil:
		return nil, 0, fmt.Errorf("%s on %s: %w", rq.what, s.ep, err)
	case len(b) > limit:
		return nil, 0, fmt.Errorf("%s: malformed answer from %s: more than %d bytes", rq.what, s.ep, limit)
	}
	return b, resp.StatusCode, nil
}

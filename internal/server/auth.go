package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/wire"
)

// maxAuthBody bounds the JSON bodies of auth and pairing requests.
const maxAuthBody = 16 << 10

// maxChainBody bounds the JSON bodies that carry a chain entry
// (registration and chain appends): the base64 of the largest entry and a
// little more.
const maxChainBody = devices.MaxEntrySize/3*4 + 1024

// register handles POST /v1/accounts: the genesis entry, verified as a
// chain of one entry, is the proof that its device holds its key.
func (s *Server) register(c *call) error {
	if err := s.checkRegistrationToken(c.r); err != nil {
		return err
	}
	var req wire.RegisterRequest
	if err := decodeJSON(c, maxChainBody, &req); err != nil {
		return err
	}
	if !validID(req.Account) {
		return badRequest("an account ID is 32 lower-case hex digits")
	}
	chain, err := devices.Verify(req.Account, [][]byte{req.Genesis})
	if err != nil {
		return badEntry(err)
	}
	e, err := devices.Parse(req.Genesis)
	if err != nil {
		return badEntry(err) // cannot happen: it verified
	}
	// The genesis is logged for ever once the account is stored, so the
	// object directory is made first, and removed if the account is not.
	if err := s.accountFree(c, req.Account); err != nil {
		return err
	}
	if err := s.createStore(c.ctx(), req.Account); err != nil {
		return errors.Join(s.accountFree(c, req.Account), err) // a 409 if a racing registration won
	}
	index, err := s.db.CreateAccount(c.ctx(), req.Account, req.Genesis, changeOf(nil, e, s.cfg.Now().UTC()))
	if errors.Is(err, meta.ErrExists) {
		return errAccountExists()
	}
	if err != nil {
		s.removeStore(c.ctx(), req.Account)
		return err
	}
	s.chains.put(req.Account, chain)
	s.awaitLogged(c, index)
	return writeJSON(c.w, http.StatusCreated, wire.RegisterResponse{Account: req.Account, Device: e.Device.ID})
}

func errAccountExists() error {
	return newError(http.StatusConflict, wire.CodeExists, "the account exists")
}

// accountFree returns a 409 if the account exists.
func (s *Server) accountFree(c *call, account string) error {
	_, _, err := s.db.ChainHead(c.ctx(), account)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return nil
	case err == nil:
		return errAccountExists()
	}
	return err
}

// checkRegistrationToken enforces --registration-token-file, comparing in
// constant time.
func (s *Server) checkRegistrationToken(r *http.Request) error {
	if s.cfg.RegistrationToken == "" {
		return nil
	}
	got := sha256.Sum256([]byte(r.Header.Get(wire.RegistrationHeader)))
	want := sha256.Sum256([]byte(s.cfg.RegistrationToken))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return forbidden("registering an account needs the server's registration token")
	}
	return nil
}

// createStore makes the object store of a new account. It refuses one
// that holds objects already: that would be another account's objects
// whose database record was lost, or a concurrent registration's.
func (s *Server) createStore(ctx context.Context, account string) error {
	_, err := s.objects.Create(ctx, account)
	return err
}

// removeStore removes the new, empty object store of an account whose
// registration failed.
func (s *Server) removeStore(ctx context.Context, account string) {
	if err := s.objects.Remove(context.WithoutCancel(ctx), account); err != nil {
		s.log.Error("removing the store of a failed registration", "account", account, "error", err.Error())
	}
}

// activePrincipal returns a principal (device, recovery key or contact)
// that may authenticate: 404 if unknown, 403 if revoked.
func (s *Server) activePrincipal(c *call, account, id string) (meta.Device, error) {
	if !validID(account) || !validID(id) {
		return meta.Device{}, badRequest("account and principal IDs are 32 lower-case hex digits")
	}
	d, err := s.db.Device(c.ctx(), account, id)
	if errors.Is(err, meta.ErrNotFound) {
		return meta.Device{}, notFound("no such account or principal")
	}
	if err != nil {
		return meta.Device{}, err
	}
	if !d.Active() {
		return meta.Device{}, forbidden("the principal has been revoked")
	}
	if _, err := s.checkWeb(c.ctx(), account, d); err != nil {
		return meta.Device{}, err
	}
	return d, nil
}

// challenge handles POST /v1/auth/challenge.
func (s *Server) challenge(c *call) error {
	var req wire.ChallengeRequest
	if err := decodeJSON(c, maxAuthBody, &req); err != nil {
		return err
	}
	if _, err := s.activePrincipal(c, req.Account, req.Device); err != nil {
		return err
	}
	ch := make([]byte, wire.ChallengeBytes)
	_, _ = rand.Read(ch) // never fails
	now := s.cfg.Now().UTC()
	expires := now.Add(wire.ChallengeTTL)
	if err := s.db.AddChallenge(c.ctx(), sha256.Sum256(ch), req.Account, req.Device, expires, now); err != nil {
		return err
	}
	return writeJSON(c.w, http.StatusOK, wire.ChallengeResponse{Challenge: ch, Expires: expires})
}

// token handles POST /v1/auth/token. The challenge is consumed only once
// the signature has verified, so a bad request changes nothing.
func (s *Server) token(c *call) error {
	var req wire.TokenRequest
	if err := decodeJSON(c, maxAuthBody, &req); err != nil {
		return err
	}
	d, err := s.activePrincipal(c, req.Account, req.Device)
	if err != nil {
		return err
	}
	if len(req.Challenge) != wire.ChallengeBytes || len(req.Signature) != ed25519.SignatureSize {
		return badRequest("challenge must be %d bytes and signature %d", wire.ChallengeBytes, ed25519.SignatureSize)
	}
	if !ed25519.Verify(d.SignKey, wire.AuthMessage(req.Account, req.Device, req.Challenge), req.Signature) {
		return unauthenticated("the signature does not verify")
	}
	now := s.cfg.Now().UTC()
	err = s.db.TakeChallenge(c.ctx(), sha256.Sum256(req.Challenge), req.Account, req.Device, now)
	if errors.Is(err, meta.ErrNotFound) {
		return unauthenticated("unknown, used or expired challenge")
	}
	if err != nil {
		return err
	}
	tok := make([]byte, wire.TokenBytes)
	_, _ = rand.Read(tok) // never fails
	expires := now.Add(wire.TokenTTL)
	if end, err := s.checkWeb(c.ctx(), req.Account, d); err != nil {
		return err
	} else if d.Rights == meta.Web && end.Before(expires) {
		expires = end // a session's token ends with it
	}
	if err := s.db.AddToken(c.ctx(), sha256.Sum256(tok), req.Account, req.Device, expires, now); err != nil {
		return err
	}
	return writeJSON(c.w, http.StatusOK, wire.TokenResponse{Token: base64.RawURLEncoding.EncodeToString(tok), Expires: expires})
}

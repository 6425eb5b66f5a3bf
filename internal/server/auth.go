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
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store/local"
)

// maxAuthBody bounds the JSON bodies of account, auth and device requests.
const maxAuthBody = 16 << 10

// maxDeviceName is the longest device name, in bytes (docs/format.md §2.4.1).
const maxDeviceName = 128

// checkDeviceKey validates a device introduction and its signature over the
// register message, and returns the device's ID.
func checkDeviceKey(account string, k wire.DeviceKey, sig []byte) (string, error) {
	if len(k.SignKey) != ed25519.PublicKeySize {
		return "", badRequest("sign_key must be %d bytes", ed25519.PublicKeySize)
	}
	if !validDeviceName(k.Name) {
		return "", badRequest("a device name is 1 to %d bytes of printable UTF-8", maxDeviceName)
	}
	if len(sig) != ed25519.SignatureSize {
		return "", badRequest("signature must be %d bytes", ed25519.SignatureSize)
	}
	id := keys.DeviceID(k.SignKey)
	if !ed25519.Verify(k.SignKey, wire.RegisterMessage(account, id), sig) {
		return "", unauthenticated("the signature does not verify under sign_key")
	}
	return id, nil
}

// validDeviceName applies the name rule of docs/format.md §2.4.1.
func validDeviceName(name string) bool {
	return len(name) >= 1 && len(name) <= maxDeviceName && utf8.ValidString(name) &&
		strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}

// register handles POST /v1/accounts.
func (s *Server) register(c *call) error {
	if err := s.checkRegistrationToken(c.r); err != nil {
		return err
	}
	var req wire.RegisterRequest
	if err := decodeJSON(c, maxAuthBody, &req); err != nil {
		return err
	}
	if !validID(req.Account) {
		return badRequest("an account ID is 32 lower-case hex digits")
	}
	id, err := checkDeviceKey(req.Account, req.Device, req.Signature)
	if err != nil {
		return err
	}
	dev := meta.Device{ID: id, SignKey: req.Device.SignKey, Name: req.Device.Name, Rights: meta.Full, Added: s.cfg.Now().UTC()}
	err = s.db.CreateAccount(c.ctx(), req.Account, dev)
	if errors.Is(err, meta.ErrExists) {
		return newError(http.StatusConflict, wire.CodeExists, "the account exists")
	}
	if err != nil {
		return err
	}
	if err := s.createStore(req.Account); err != nil {
		return errors.Join(err, s.db.DeleteAccount(context.WithoutCancel(c.ctx()), req.Account))
	}
	return writeJSON(c.w, http.StatusCreated, wire.RegisterResponse{Account: req.Account, Device: id})
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

// createStore makes the object store of a new account. It refuses a
// directory that exists already: that would be another account's objects
// whose database record was lost.
func (s *Server) createStore(account string) error {
	st, err := local.Create(s.accountDir(account))
	if err != nil {
		return err
	}
	s.stores.Store(account, st)
	return nil
}

// activeDevice returns a device that may authenticate: 404 if unknown, 403
// if revoked.
func (s *Server) activeDevice(c *call, account, device string) (meta.Device, error) {
	if !validID(account) || !validID(device) {
		return meta.Device{}, badRequest("account and device IDs are 32 lower-case hex digits")
	}
	d, err := s.db.Device(c.ctx(), account, device)
	if errors.Is(err, meta.ErrNotFound) {
		return meta.Device{}, notFound("no such account or device")
	}
	if err != nil {
		return meta.Device{}, err
	}
	if !d.Active() {
		return meta.Device{}, forbidden("the device has been revoked")
	}
	return d, nil
}

// challenge handles POST /v1/auth/challenge.
func (s *Server) challenge(c *call) error {
	var req wire.ChallengeRequest
	if err := decodeJSON(c, maxAuthBody, &req); err != nil {
		return err
	}
	if _, err := s.activeDevice(c, req.Account, req.Device); err != nil {
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
	d, err := s.activeDevice(c, req.Account, req.Device)
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
	if err := s.db.AddToken(c.ctx(), sha256.Sum256(tok), req.Account, req.Device, expires, now); err != nil {
		return err
	}
	return writeJSON(c.w, http.StatusOK, wire.TokenResponse{Token: base64.RawURLEncoding.EncodeToString(tok), Expires: expires})
}

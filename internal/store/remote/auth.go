package remote

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-backup/coffer/internal/server/wire"
)

// maxTokenLen bounds a token the client accepts from the server.
const maxTokenLen = 256

// bearer returns a valid token, fetching a new one when the cached token is
// missing or three quarters through its life; "" if anon. Concurrent
// callers wait for one login rather than each logging in. Logging in is
// retried within the calling request's budget b.
func (s *Store) bearer(ctx context.Context, anon bool, b budget) (string, error) {
	if anon {
		return "", nil
	}
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	if s.tok != "" && s.now().Before(s.tokReauth) {
		return s.tok, nil
	}
	var (
		tok    string
		reauth time.Time
	)
	id, key, err := s.opts.principal()
	if err != nil {
		return "", fmt.Errorf("%s: this store has no credentials: %w", s.ep, err)
	}
	err = s.retry(ctx, b, func(int) error {
		var err error
		tok, reauth, err = s.login(ctx, s.opts.Account, id, key, s.opts.Session)
		return err
	})
	if err != nil {
		return "", err
	}
	s.tok, s.tokReauth = tok, reauth
	return tok, nil
}

// dropToken forgets tok after the server refused it, unless another
// request has already replaced it.
func (s *Store) dropToken(tok string) {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	if s.tok == tok {
		s.tok = ""
	}
}

// login runs the challenge-response once and returns a token and when to
// replace it. Failures worth retrying come back marked retryable; the two
// steps are retried together, since a challenge serves only once.
func (s *Store) login(ctx context.Context, account, id string, key ed25519.PrivateKey, session *Session) (string, time.Time, error) {
	what := fmt.Sprintf("authenticating %s to account %s", id, account)
	var ch wire.ChallengeResponse
	if err := s.step(ctx, "/v1/auth/challenge", what, wire.ChallengeRequest{Account: account, Device: id}, &ch, nil); err != nil {
		return "", time.Time{}, err
	}
	if len(ch.Challenge) != wire.ChallengeBytes {
		return "", time.Time{}, fmt.Errorf("%s: the server sent a %d-byte challenge, want %d", what, len(ch.Challenge), wire.ChallengeBytes)
	}
	req := wire.TokenRequest{
		Account: account, Device: id, Challenge: ch.Challenge,
	}
	if session != nil {
		req.Signature = session.Sign(wire.AuthMessage(account, id, ch.Challenge))
	} else {
		req.Signature = ed25519.Sign(key, wire.AuthMessage(account, id, ch.Challenge))
	}
	var tr wire.TokenResponse
	start := s.now()
	var hdr http.Header
	if err := s.step(ctx, "/v1/auth/token", what, req, &tr, &hdr); err != nil {
		return "", time.Time{}, err
	}
	if !validToken(tr.Token) {
		return "", time.Time{}, fmt.Errorf("%s: the server sent a malformed token", what)
	}
	life := tr.Expires.Sub(serverTime(hdr, start))
	if life <= 0 {
		return "", time.Time{}, fmt.Errorf("%s: the server sent an already expired token", what)
	}
	return tr.Token, start.Add(life * 3 / 4), nil
}

// step posts one anonymous step of the login sequence.
func (s *Store) step(ctx context.Context, path, what string, in, out any, hdr *http.Header) error {
	rq := &request{method: http.MethodPost, path: path, what: what, anon: true, step: true}
	if err := rq.jsonBody(in); err != nil {
		return err
	}
	h, err := s.callJSON(ctx, rq, out)
	if hdr != nil {
		*hdr = h
	}
	var se *Error
	if errors.As(err, &se) {
		se.login = true
	}
	return err
}

// serverTime is the server's clock at an answer, from its Date header, so
// that a token's life is measured without trusting the two clocks to agree;
// without the header it is local.
func serverTime(h http.Header, local time.Time) time.Time {
	if t, err := http.ParseTime(h.Get("Date")); err == nil {
		return t
	}
	return local
}

// validToken accepts 1 to maxTokenLen base64url characters, all a token can
// be, so nothing else ever reaches an Authorization header.
func validToken(tok string) bool {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return len(tok) > 0 && len(tok) <= maxTokenLen && strings.Trim(tok, alphabet) == ""
}

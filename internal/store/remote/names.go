package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store"
)

// RegisterName gives the account a human-readable name on the server,
// first come first served (docs/api.md, Account names); the server logs
// the mapping in its transparency log before it answers. This Store must
// be a full device. A name taken by another account, or already this
// one's, is an error wrapping store.ErrExists, except after a try that
// may have registered it: the name then counts as registered if it maps
// to this account.
func (s *Store) RegisterName(ctx context.Context, name string) error {
	if !wire.ValidAccountName(name) {
		return fmt.Errorf("account name %.80q is not 1 to %d bytes of a-z 0-9 . _ @ + -, starting with a letter or digit", name, wire.MaxAccountName)
	}
	rq := &request{method: http.MethodPost, path: "/v1/names", what: fmt.Sprintf("registering account name %q", name)}
	if err := rq.jsonBody(wire.NameRequest{Name: name}); err != nil {
		return err
	}
	var out wire.NameInfo
	_, err := s.callJSON(ctx, rq, &out)
	switch {
	case errors.Is(err, store.ErrExists) && rq.ambiguous:
		if account, _, lerr := s.LookupName(ctx, name); lerr == nil && account == s.opts.Account {
			return nil
		}
		return err
	case err != nil:
		return err
	case out.Account != s.opts.Account:
		return fmt.Errorf("%s: malformed answer from %s: the name maps to account %.40q", rq.what, s.ep, out.Account)
	}
	return nil
}

// LookupName returns the account a name maps to and the index of its
// name leaf in the server's transparency log, as the server states them:
// the caller checks that leaf in the log (internal/transparency). Any
// principal may look names up. An unknown name is an error wrapping
// store.ErrNotFound.
func (s *Store) LookupName(ctx context.Context, name string) (string, uint64, error) {
	if !wire.ValidAccountName(name) {
		return "", 0, fmt.Errorf("account name %.80q is not 1 to %d bytes of a-z 0-9 . _ @ + -, starting with a letter or digit", name, wire.MaxAccountName)
	}
	rq := &request{method: http.MethodGet, path: "/v1/names/" + name, what: fmt.Sprintf("looking up account name %q", name)}
	var out wire.NameInfo
	if _, err := s.callJSON(ctx, rq, &out); err != nil {
		return "", 0, err
	}
	if err := checkID("account", out.Account); err != nil {
		return "", 0, fmt.Errorf("%s: malformed answer from %s: %w", rq.what, s.ep, err)
	}
	return out.Account, out.Index, nil
}

// BaseURL returns the server's base URL, under which it serves its
// transparency log at "/log/" per C2SP tlog-tiles (without the
// certificate pin, which HTTPClient applies).
func (s *Store) BaseURL() string { return s.ep.base }

// HTTPClient returns the HTTP client of this Store, whose TLS is pinned to
// the server's certificate (or CA-validated), whose plain HTTP reaches
// only loopback addresses and whose every exchange is bounded by the
// Store's Timeouts (internal/deadline), so that the log can be read over
// the same checked connection, within the same limits. It carries no
// credentials: the log needs none.
func (s *Store) HTTPClient() *http.Client { return s.client }

// Package transparency is the client's side of Coffer's transparency log
// (docs/transparency.md §T.5): every time it opens an account, a device
// fetches the log's latest checkpoint, checks it against its witness policy
// and against the checkpoint it verified before (no rollback, no split
// view), reads the leaves logged since, and checks that the log holds
// exactly the device-chain entries and account-name mapping this device
// verified: no entry hidden from it, none forked, none shown but never
// logged. What it has verified is kept per log in a small file of the
// device's home directory. The checks themselves are internal/tlog's; this
// package fetches over HTTP, keeps the state and applies the rules.
package transparency

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/coffer-backup/coffer/internal/deadline"
	"github.com/coffer-backup/coffer/internal/tlog"
)

// maxVerifierKeySize bounds the log's verifier key text: a 255-byte name,
// an 8-digit key ID and the base64 of 33 bytes fit with room to spare.
const maxVerifierKeySize = 1 << 10

// A Fetcher reads a log served per C2SP tlog-tiles under "/log/" of a
// server's base URL (docs/transparency.md §T.3). It implements
// tlog.TileFetcher. It never reads more than the largest valid response:
// tlog.MaxNoteSize for the checkpoint, tlog.MaxTileSize for a hash tile,
// tlog.MaxBundleSize for an entry bundle. Nothing it returns is trusted:
// the caller checks it (Check does). No server can hold it for ever: every
// request is bounded by internal/deadline (by default it fails after 30 s
// without a byte, or past 2 min plus a second per 32 KiB), and its error
// names the URL it was reading.
type Fetcher struct {
	client *http.Client
	base   string // ends in "/log/"
}

// NewFetcher returns a Fetcher of the log under baseURL + "/log/", using
// client, which carries the caller's TLS settings (a pinned certificate)
// and, if its transport is a *deadline.Transport, the limits of its
// requests; any other transport is wrapped in one with default limits.
// baseURL is http or https with a host and an optional path; a fragment,
// such as a store location's "#sha256=PIN", is dropped: pinning is the
// client's job.
func NewFetcher(client *http.Client, baseURL string) (*Fetcher, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Opaque != "" {
		return nil, fmt.Errorf("log base URL %.200q is not http(s)://host[:port][/path]", baseURL)
	}
	if client == nil {
		return nil, fmt.Errorf("log fetcher for %s needs an HTTP client", u.Host)
	}
	u.Fragment, u.RawFragment = "", ""
	return &Fetcher{client: deadline.Client(client), base: strings.TrimSuffix(u.String(), "/") + "/log/"}, nil
}

// String returns the URL prefix the Fetcher reads from.
func (f *Fetcher) String() string { return f.base }

// Checkpoint returns the log's latest signed checkpoint, unverified.
func (f *Fetcher) Checkpoint(ctx context.Context) ([]byte, error) {
	return f.get(ctx, "checkpoint", tlog.MaxNoteSize)
}

// Tile returns the hash tile or entry bundle at a C2SP path, unverified.
// It refuses a path that is not canonical (tlog.ParseTilePath) before
// any request.
func (f *Fetcher) Tile(ctx context.Context, path string) ([]byte, error) {
	t, err := tlog.ParseTilePath(path)
	if err != nil {
		return nil, err
	}
	limit := tlog.MaxTileSize
	if t.L < 0 {
		limit = tlog.MaxBundleSize
	}
	return f.get(ctx, path, limit)
}

// VerifierKey returns the log's note verifier key as the server states it,
// checked to parse. Trusting it is the caller's decision (on first use, or
// compared with a key it was given); the checkpoint origin is its name.
func (f *Fetcher) VerifierKey(ctx context.Context) (string, error) {
	b, err := f.get(ctx, "vkey", maxVerifierKeySize)
	if err != nil {
		return "", err
	}
	vkey := strings.TrimSpace(string(b))
	if _, err := tlog.NewLogVerifier(vkey); err != nil {
		return "", err
	}
	return vkey, nil
}

// get reads base+path, which must answer 200 with at most limit bytes.
func (f *Fetcher) get(ctx context.Context, path string, limit int) ([]byte, error) {
	u := f.base + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	resp, err := f.client.Do(req)
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is named below
	}
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("GET %s: response longer than %d bytes: %w", u, limit, tlog.ErrMalformed)
	}
	return b, nil
}

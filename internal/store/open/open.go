// Package open turns a store location given by the user into a
// store.Store: a local directory (a path, or a file:// URL), a prefix of an
// S3 bucket (s3://BUCKET/PREFIX) or a Coffer server (an https:// URL, or
// http:// to a loopback host). Everything above it sees only store.Store.
// A location with any other scheme is refused rather than taken for a
// directory of that name.
package open

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
	"github.com/coffer-backup/coffer/internal/store/remote"
	"github.com/coffer-backup/coffer/internal/store/s3"
)

// Options are what a server needs to know who is calling (the fields of
// remote.Options), and where an S3 store's service is. A local store needs
// none of it.
type Options struct {
	Account           string
	Device            *keys.Device
	Signer            ed25519.PrivateKey
	Genesis           []byte
	RegistrationToken string
	// S3Endpoint is the URL of the S3-compatible service of an s3://
	// store, "" for AWS (or the AWS_ENDPOINT_URL_S3 environment).
	S3Endpoint string
}

// remote returns the options a server store takes.
func (o Options) remote() remote.Options {
	return remote.Options{Account: o.Account, Device: o.Device, Signer: o.Signer, Genesis: o.Genesis, RegistrationToken: o.RegistrationToken}
}

// ErrNoAccount means a server store was given without an account ID.
var ErrNoAccount = errors.New("no account ID is known for this store")

// Open opens an existing store.
func Open(location string, o Options) (store.Store, error) {
	switch {
	case IsRemote(location):
		if o.Account == "" {
			return nil, fmt.Errorf("store %s: %w", location, ErrNoAccount)
		}
		return remote.Open(location, o.remote())
	case IsS3(location):
		loc, err := s3.ParseLocation(location)
		if err != nil {
			return nil, err
		}
		return s3.Open(context.Background(), loc, o.S3Endpoint)
	}
	path, err := localPath(location)
	if err != nil {
		return nil, err
	}
	return local.Open(path)
}

// Create creates a new, empty store: a new directory, a new S3 store
// (s3.Create: the bucket must exist, and the service must honour
// If-None-Match), or a new account registered on a server with o.Device
// as its first device.
func Create(ctx context.Context, location string, o Options) (store.Store, error) {
	switch {
	case IsRemote(location):
		return remote.Create(ctx, location, o.remote())
	case IsS3(location):
		loc, err := s3.ParseLocation(location)
		if err != nil {
			return nil, err
		}
		return s3.Create(ctx, loc, o.S3Endpoint)
	}
	path, err := localPath(location)
	if err != nil {
		return nil, err
	}
	return local.Create(path)
}

// IsRemote reports whether location names a server rather than a directory.
func IsRemote(location string) bool {
	scheme, _, ok := strings.Cut(location, "://")
	return ok && (strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "http"))
}

// CanonicalS3Endpoint checks the URL of an S3-compatible service and
// returns the form to remember it by (s3.CanonicalEndpoint).
func CanonicalS3Endpoint(endpoint string) (string, error) { return s3.CanonicalEndpoint(endpoint) }

// IsS3 reports whether location names an S3 store (s3://…).
func IsS3(location string) bool { return s3.IsLocation(location) }

// Canonical returns the form of location to remember it by: an absolute
// path for a directory, s3://BUCKET/PREFIX for S3, the normalised URL
// (with its pin) for a server. For a server or S3 store it is also the
// string whose SHA-256 names the store's local cache (docs/format.md §12,
// which gives it byte for byte).
func Canonical(location string) (string, error) {
	switch {
	case IsRemote(location):
		return remote.Canonical(location)
	case IsS3(location):
		loc, err := s3.ParseLocation(location)
		if err != nil {
			return "", err
		}
		return loc.String(), nil
	}
	path, err := localPath(location)
	if err != nil {
		return "", err
	}
	return filepath.Abs(path)
}

// schemeRE matches a location that starts with a URL scheme of two or more
// characters and a colon, such as sftp:, b2: or rclone:. A single letter
// and a colon is a Windows drive, and anything with a '/' or '\' before
// the first colon is a path.
var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]+:`)

// errUnsupported is the one-line refusal of a location with a scheme
// Coffer does not support. It names the scheme only: the rest of such a
// location may hold a password.
func errUnsupported(location string) error {
	scheme, _, _ := strings.Cut(location, ":")
	return fmt.Errorf("unsupported store location %q: a store is a directory (a path or file:///path), s3://BUCKET/PREFIX or a Coffer server (https://HOST:PORT)", scheme+":")
}

func localPath(location string) (string, error) {
	if location == "" {
		return "", fmt.Errorf("no store given: use --store or set COFFER_STORE")
	}
	if p, ok := strings.CutPrefix(location, "file://"); ok {
		return p, nil
	}
	if strings.Contains(location, "://") || schemeRE.MatchString(location) {
		return "", errUnsupported(location)
	}
	return location, nil
}

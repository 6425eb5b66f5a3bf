package s3

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/coffer-backup/coffer/internal/store"
)

// Scheme starts every S3 store location.
const Scheme = "s3://"

// Location is where an S3 store lives: a bucket and a key prefix under
// which the store's keys follow the local store's layout (docs/format.md
// §4.4).
type Location struct {
	Bucket string
	// Prefix is "" or slash-separated segments, with no slash at either
	// end.
	Prefix string
}

var (
	bucketRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	segmentRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,255}$`)
)

// maxPrefix leaves room in S3's 1024-byte keys for the longest object path
// (packs/xx/ and a 128-byte name) and a server's accounts/<id>/.
const maxPrefix = 768

// IsLocation reports whether s names an S3 store (starts with s3://, in any
// case), valid or not.
func IsLocation(s string) bool {
	return len(s) >= len(Scheme) && strings.EqualFold(s[:len(Scheme)], Scheme)
}

// ParseLocation parses s3://BUCKET or s3://BUCKET/PREFIX. The bucket is 3
// to 63 lower-case letters, digits, '.' and '-'; the prefix is segments of
// letters, digits, '.', '_' and '-' other than "." and "..", joined by '/'
// (a trailing '/' is dropped). Anything else is refused, so a location
// always maps to exactly one place.
func ParseLocation(s string) (Location, error) {
	if !IsLocation(s) {
		return Location{}, fmt.Errorf("S3 location %q does not start with %s", s, Scheme)
	}
	bucket, prefix, _ := strings.Cut(s[len(Scheme):], "/")
	prefix = strings.TrimSuffix(prefix, "/")
	if !bucketRE.MatchString(bucket) {
		return Location{}, fmt.Errorf("S3 location %q: the bucket name must be 3 to 63 lower-case letters, digits, '.' and '-'", s)
	}
	if err := checkPrefix(prefix); err != nil {
		return Location{}, fmt.Errorf("S3 location %q: %w", s, err)
	}
	return Location{Bucket: bucket, Prefix: prefix}, nil
}

// checkPrefix checks a key prefix as ParseLocation describes.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if len(prefix) > maxPrefix {
		return fmt.Errorf("the prefix is longer than %d bytes", maxPrefix)
	}
	for seg := range strings.SplitSeq(prefix, "/") {
		if !segmentRE.MatchString(seg) || seg == "." || seg == ".." {
			return errors.New("the prefix must be segments of letters, digits, '.', '_' and '-' (not . or ..) separated by single '/'")
		}
	}
	return nil
}

// String returns the canonical form of l: s3://BUCKET or s3://BUCKET/PREFIX
// (docs/format.md §12).
func (l Location) String() string {
	if l.Prefix == "" {
		return Scheme + l.Bucket
	}
	return Scheme + l.Bucket + "/" + l.Prefix
}

// Join returns the location of a sub-prefix of l, such as a server
// account's; sub must be a valid prefix.
func (l Location) Join(sub string) Location {
	if l.Prefix == "" {
		return Location{Bucket: l.Bucket, Prefix: sub}
	}
	return Location{Bucket: l.Bucket, Prefix: l.Prefix + "/" + sub}
}

// keyPrefix is what every key of the store starts with: "" or the prefix
// and a '/'.
func (l Location) keyPrefix() string {
	if l.Prefix == "" {
		return ""
	}
	return l.Prefix + "/"
}

// key returns the key of kind/name: the prefix and the object's path in
// the local layout. kind and name must be valid.
func (l Location) key(kind store.Kind, name string) string {
	return l.keyPrefix() + store.ObjectPath(kind, name)
}

// CheckEndpoint checks an S3 endpoint URL given by the user: http or https,
// a host, and nothing else: no user or password (credentials come from the
// AWS_* environment, and a URL is printed and remembered), path, query or
// fragment. The error never repeats the URL, which may hold a secret.
func CheckEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	switch {
	case err != nil:
		return errors.New("the S3 endpoint is not a URL")
	case u.User != nil:
		return errors.New("the S3 endpoint must not contain a user or password: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("the S3 endpoint must be an http:// or https:// URL")
	case u.Host == "" || u.Opaque != "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "":
		return errors.New("the S3 endpoint must be scheme://host[:port], with no path, query or fragment")
	}
	return nil
}

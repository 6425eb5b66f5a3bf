// Package wire holds what the Coffer server and its clients must agree on
// (docs/api.md): the exact messages devices sign, the JSON bodies of
// requests and responses, the error codes and the limits. It does no I/O.
//
// Binary fields are []byte, which encoding/json writes as standard base64
// with padding, as the protocol requires; times are written in RFC 3339.
package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// AuthLabel starts the message a principal signs to log in (docs/api.md,
// Authenticate).
const AuthLabel = "coffer v1 auth"

// Limits and lifetimes (docs/api.md).
const (
	MaxPackSize    = 256 << 20 // largest object of kind packs, in bytes
	MaxObjectSize  = 16 << 20  // largest object of any other kind
	MaxRefSize     = 64 << 10  // largest reference value
	MaxRefs        = 1024      // most references one account may hold
	MaxListLimit   = 1000      // most names in one listing page, and the default
	ChallengeBytes = 32        // size of a challenge
	TokenBytes     = 32        // size of a token before base64url encoding
	ChallengeTTL   = 60 * time.Second
	TokenTTL       = 15 * time.Minute

	MaxChainPage      = 256     // most entries in one page of a chain read
	MaxChainPageBytes = 4 << 20 // most entry bytes in one page, unless its first entry alone is larger
	// MaxChainPageJSON bounds the JSON body of a chain page: the base64 of
	// MaxChainPageBytes, plus quotes and commas.
	MaxChainPageJSON = MaxChainPageBytes/3*4 + 4*MaxChainPage + 64

	PairingIDLen   = 32       // hex digits of a pairing id
	PairingSlots   = 4        // slots 1 to 4
	MaxPairingBody = 64 << 10 // largest slot body
	MaxPairings    = 8        // most live pairings per account
	MaxPairingTTL  = 3600     // longest pairing life, in seconds
	MaxPairingWait = 30       // longest wait of a slot read, in seconds

	MaxAccountName = 64 // longest account name, in bytes
	MaxNames       = 4  // most names one account may register
)

// Pin returns the pin of a certificate given in DER, as it appears in a
// store URL after "#sha256=": the lower-case hex SHA-256 of those bytes
// (docs/api.md, Transport).
func Pin(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// RegistrationHeader carries the registration token when the server
// requires one.
const RegistrationHeader = "Coffer-Registration"

// AuthMessage is what a principal signs to turn a challenge into a token:
// "coffer v1 auth" || 0x00 || account || 0x00 || ID || 0x00 || challenge,
// with account and ID as their 32 lower-case hex digits and the challenge
// as its 32 raw bytes.
func AuthMessage(account, id string, challenge []byte) []byte {
	b := []byte(AuthLabel)
	for _, p := range [][]byte{[]byte(account), []byte(id), challenge} {
		b = append(append(b, 0), p...)
	}
	return b
}

// Error codes of error bodies, by HTTP status (docs/api.md, Errors).
const (
	CodeBadRequest      = "bad_request"        // 400
	CodeBadEntry        = "bad_entry"          // 400: a chain entry that does not verify
	CodeUnauthenticated = "unauthenticated"    // 401
	CodeForbidden       = "forbidden"          // 403
	CodeNotFound        = "not_found"          // 404
	CodeBadMethod       = "method_not_allowed" // 405
	CodeExists          = "exists"             // 409
	CodeConflict        = "conflict"           // 409
	CodeLengthRequired  = "length_required"    // 411
	CodeTooLarge        = "too_large"          // 413
	CodeQuota           = "quota"              // 413
	CodeBadRange        = "bad_range"          // 416
	CodeRateLimited     = "rate_limited"       // 429
	CodeInternal        = "internal"           // 500
	CodeUnavailable     = "unavailable"        // 503
)

// Error is the body of every error response. Version is set only on a
// reference conflict (the reference's current version), Length only on a
// chain conflict (the chain's current number of entries).
type Error struct {
	Error   string  `json:"error"`
	Code    string  `json:"code"`
	Version *int64  `json:"version,omitempty"`
	Length  *uint64 `json:"length,omitempty"`
}

// RegisterRequest is the body of POST /v1/accounts: the account's device
// chain genesis entry (docs/devices.md §D.1), whose first device becomes
// the account's first device.
type RegisterRequest struct {
	Account string `json:"account"`
	Genesis []byte `json:"genesis"`
}

// RegisterResponse is the body of a successful registration.
type RegisterResponse struct {
	Account string `json:"account"`
	Device  string `json:"device"`
}

// ChallengeRequest is the body of POST /v1/auth/challenge. Device is the
// ID of the principal logging in: a device, the recovery key or a contact.
type ChallengeRequest struct {
	Account string `json:"account"`
	Device  string `json:"device"`
}

// ChallengeResponse is the answer to a ChallengeRequest.
type ChallengeResponse struct {
	Challenge []byte    `json:"challenge"`
	Expires   time.Time `json:"expires"`
}

// TokenRequest is the body of POST /v1/auth/token. Signature is by the
// device's key over AuthMessage.
type TokenRequest struct {
	Account   string `json:"account"`
	Device    string `json:"device"`
	Challenge []byte `json:"challenge"`
	Signature []byte `json:"signature"`
}

// TokenResponse is the answer to a TokenRequest. Token is 43 base64url
// characters without padding; it goes in "Authorization: Bearer <token>".
type TokenResponse struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// Rights names, as sent in ChainAppend and DeviceInfo.
const (
	RightsFull       = "full"
	RightsAppendOnly = "append-only"
)

// DeviceInfo describes one device of the account. AddedBy is the ID of the
// principal whose chain entry added it (a device, or the recovery key),
// empty for the genesis device; Revoked is null while it is active.
type DeviceInfo struct {
	Device  string     `json:"device"`
	SignKey []byte     `json:"sign_key"`
	Name    string     `json:"name"`
	Rights  string     `json:"rights"`
	AddedBy string     `json:"added_by"`
	Added   time.Time  `json:"added"`
	Revoked *time.Time `json:"revoked"`
}

// DevicesResponse is the body of GET /v1/devices.
type DevicesResponse struct {
	Devices []DeviceInfo `json:"devices"`
}

// ObjectInfo is one listed object.
type ObjectInfo struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// ListResponse is one page of GET /v1/objects/{kind}/. Next is the name to
// pass as "after" for the next page, or empty on the last page.
type ListResponse struct {
	Objects []ObjectInfo `json:"objects"`
	Next    string       `json:"next"`
}

// Ref is the body of GET /v1/refs/{name} and of PUT /v1/refs/{name}; in a
// PUT, Version is the version the writer expects to replace (0 for none).
type Ref struct {
	Value   []byte `json:"value"`
	Version int64  `json:"version"`
}

// RefVersion is the answer to a successful PUT /v1/refs/{name}.
type RefVersion struct {
	Version int64 `json:"version"`
}

// ChainPage is the answer to GET /v1/chain and GET
// /v1/accounts/{account}/chain: consecutive entries from the one asked
// for; an empty list means there are none from there on.
type ChainPage struct {
	Entries [][]byte `json:"entries"`
}

// ChainAppend is the body of POST /v1/chain: Entry is to become entry
// number Seq. A device's rights come from the entry that adds it
// (docs/devices.md §D.1), never from the request.
type ChainAppend struct {
	Seq   uint64 `json:"seq"`
	Entry []byte `json:"entry"`
}

// ChainLength is the answer to a successful POST /v1/chain: the chain's
// new number of entries.
type ChainLength struct {
	Length uint64 `json:"length"`
}

// PairingRequest is the body of POST /v1/pairings: ID is PairingIDLen
// lower-case hex digits and TTL the mailbox's life in seconds (1 to
// MaxPairingTTL).
type PairingRequest struct {
	ID  string `json:"id"`
	TTL int    `json:"ttl"`
}

// ValidAccountName reports whether name may be registered as an account
// name (docs/api.md, Account names): 1 to MaxAccountName bytes of
// [a-z0-9._@+-], starting with a letter or a digit.
func ValidAccountName(name string) bool {
	if len(name) == 0 || len(name) > MaxAccountName {
		return false
	}
	for i := range len(name) {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("._@+-", rune(c))) {
			return false
		}
	}
	return true
}

// NameRequest is the body of POST /v1/names.
type NameRequest struct {
	Name string `json:"name"`
}

// NameInfo is the answer to POST /v1/names and GET /v1/names/{name}: the
// account the name maps to and the index of its name leaf in the
// transparency log.
type NameInfo struct {
	Account string `json:"account"`
	Index   uint64 `json:"index"`
}

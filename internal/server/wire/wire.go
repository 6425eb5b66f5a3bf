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
	"time"
)

// Labels of the signed messages (docs/api.md, Accounts and devices).
const (
	RegisterLabel = "coffer v1 register"
	AuthLabel     = "coffer v1 auth"
)

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

// RegisterMessage is what a device signs to join an account, when it
// registers the account or is added to it:
// "coffer v1 register" || 0x00 || account || 0x00 || deviceID, with account
// and deviceID as their 32 lower-case hex digits.
func RegisterMessage(account, deviceID string) []byte {
	return join(RegisterLabel, []byte(account), []byte(deviceID))
}

// AuthMessage is what a device signs to turn a challenge into a token:
// "coffer v1 auth" || 0x00 || account || 0x00 || deviceID || 0x00 ||
// challenge, the challenge as its 32 raw bytes.
func AuthMessage(account, deviceID string, challenge []byte) []byte {
	return join(AuthLabel, []byte(account), []byte(deviceID), challenge)
}

// join returns label and parts separated by single zero bytes.
func join(label string, parts ...[]byte) []byte {
	b := []byte(label)
	for _, p := range parts {
		b = append(append(b, 0), p...)
	}
	return b
}

// Error codes of error bodies, by HTTP status (docs/api.md, Errors).
const (
	CodeBadRequest      = "bad_request"        // 400
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
// reference conflict: the reference's current version.
type Error struct {
	Error   string `json:"error"`
	Code    string `json:"code"`
	Version *int64 `json:"version,omitempty"`
}

// DeviceKey introduces a device: its Ed25519 public key and its name.
type DeviceKey struct {
	SignKey []byte `json:"sign_key"`
	Name    string `json:"name"`
}

// RegisterRequest is the body of POST /v1/accounts. Signature is by the
// device's key over RegisterMessage.
type RegisterRequest struct {
	Account   string    `json:"account"`
	Device    DeviceKey `json:"device"`
	Signature []byte    `json:"signature"`
}

// RegisterResponse is the body of a successful registration.
type RegisterResponse struct {
	Account string `json:"account"`
	Device  string `json:"device"`
}

// ChallengeRequest is the body of POST /v1/auth/challenge.
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

// Rights names, as sent in AddDeviceRequest and DeviceInfo.
const (
	RightsFull       = "full"
	RightsAppendOnly = "append-only"
)

// AddDeviceRequest is the body of POST /v1/devices. Signature is by the
// new device's key over RegisterMessage.
type AddDeviceRequest struct {
	Device    DeviceKey `json:"device"`
	Rights    string    `json:"rights"`
	Signature []byte    `json:"signature"`
}

// DeviceInfo describes one device of the account. AddedBy is empty for the
// device that registered the account; Revoked is null while it is active.
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

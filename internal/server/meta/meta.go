// Package meta is the metadata store of coffer serve (docs/api.md): accounts,
// devices and their rights, authentication challenges and tokens (kept only
// as SHA-256 hashes), compare-and-swap references, quota usage and the
// creators of session objects. Object bytes are not kept here.
//
// The server reaches the store only through the DB interface, whose methods
// are whole operations (each atomic on its own), so that another database
// such as PostgreSQL can implement it and several server instances can share
// one database. The embedded default is SQLite (OpenSQLite).
package meta

import (
	"context"
	"errors"
	"time"
)

// Errors returned (possibly wrapped) by every DB implementation.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrConflict = errors.New("conflict")
	ErrQuota    = errors.New("quota exceeded")
)

// Rights is what a device may do in its account (docs/api.md, Devices).
type Rights string

// The two rights levels.
const (
	Full       Rights = "full"        // read, write, delete and admin
	AppendOnly Rights = "append-only" // read and write of new objects only
)

// Valid reports whether r is one of the defined rights.
func (r Rights) Valid() bool { return r == Full || r == AppendOnly }

// Device is a device registered in an account.
type Device struct {
	ID      string    // 32 hex digits: SHA-256 of SignKey, first 16 bytes
	SignKey []byte    // Ed25519 public key, 32 bytes
	Name    string    // printable label chosen by the device
	Rights  Rights    // what it may do
	AddedBy string    // ID of the device that added it; empty for the first
	Added   time.Time // when it was added
	Revoked time.Time // when it was revoked; zero while active
}

// Active reports whether the device has not been revoked.
func (d Device) Active() bool { return d.Revoked.IsZero() }

// Hash is the SHA-256 of a secret (token) or of a challenge; the raw values
// are never stored.
type Hash [32]byte

// Usage is what an account stores.
type Usage struct {
	Objects int64 // number of objects
	Bytes   int64 // their total size
}

// Object names one stored object for usage accounting.
type Object struct {
	Kind, Name string
	Size       int64
	Creator    string // device ID to remember as its creator, or empty
}

// DB is the metadata store. Every method is atomic and safe for concurrent
// use by goroutines and by several processes sharing the database. Times
// are passed in by the caller, so that expiry is decided by one clock.
type DB interface {
	// CreateAccount creates an account whose first device is first. It
	// fails with ErrExists if the account exists.
	CreateAccount(ctx context.Context, account string, first Device) error
	// DeleteAccount removes an account and everything recorded for it. It
	// only undoes a registration whose object directory could not be made.
	DeleteAccount(ctx context.Context, account string) error

	// Device returns one device of an account, revoked or not, or
	// ErrNotFound (also if the account does not exist).
	Device(ctx context.Context, account, id string) (Device, error)
	// Devices returns every device of an account, in order of addition.
	Devices(ctx context.Context, account string) ([]Device, error)
	// AddDevice adds a device to an existing account. It fails with
	// ErrExists if the account has (or had) a device with that ID.
	AddDevice(ctx context.Context, account string, d Device) error
	// RevokeDevice revokes a device at the given time and forgets its
	// tokens. Revoking a revoked device changes nothing. It fails with
	// ErrNotFound for an unknown device and with ErrConflict if the device
	// is the account's last active full device.
	RevokeDevice(ctx context.Context, account, id string, at time.Time) error

	// AddChallenge records a challenge issued to a device, and forgets
	// expired ones.
	AddChallenge(ctx context.Context, h Hash, account, device string, expires, now time.Time) error
	// TakeChallenge consumes a challenge: it succeeds once, and only if the
	// challenge was issued to this account and device and has not expired.
	// Otherwise it returns ErrNotFound and changes nothing.
	TakeChallenge(ctx context.Context, h Hash, account, device string, now time.Time) error

	// AddToken records a token issued to a device, and forgets expired ones.
	AddToken(ctx context.Context, h Hash, account, device string, expires, now time.Time) error
	// Token returns the account and device a token was issued to. It
	// returns ErrNotFound if the token is unknown or expired or its device
	// has been revoked.
	Token(ctx context.Context, h Hash, now time.Time) (account string, d Device, err error)

	// Ref returns a reference's value and version, or ErrNotFound.
	Ref(ctx context.Context, account, name string) (value []byte, version int64, err error)
	// SwapRef sets a reference to value if its version is version (0 for a
	// reference that does not exist) and returns the new version,
	// version+1. Otherwise it returns the current version and ErrConflict.
	// Creating a reference fails with ErrQuota once the account has
	// maxRefs of them.
	SwapRef(ctx context.Context, account, name string, value []byte, version int64, maxRefs int) (int64, error)

	// Reserve sets aside size bytes of the account's quota for an upload
	// and returns the reservation's ID. With quota > 0 it fails with
	// ErrQuota if stored bytes plus live reservations plus size would
	// exceed quota. Reservations older than a day are dead: they are
	// ignored and forgotten.
	Reserve(ctx context.Context, account string, size, quota int64, now time.Time) (int64, error)
	// Release drops a reservation whose upload failed.
	Release(ctx context.Context, account string, reservation int64) error
	// Stored turns a reservation into usage for the object just stored,
	// and records o.Creator as its creator if it is not empty.
	Stored(ctx context.Context, account string, reservation int64, o Object) error
	// Deleted subtracts a deleted object from the usage and forgets its
	// creator.
	Deleted(ctx context.Context, account string, o Object) error
	// Creator returns the device recorded as the creator of an object, or
	// ErrNotFound.
	Creator(ctx context.Context, account, kind, name string) (string, error)
	// Usage returns the usage of every account.
	Usage(ctx context.Context) (map[string]Usage, error)

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close closes the database.
	Close() error
}

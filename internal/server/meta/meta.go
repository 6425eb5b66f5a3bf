// Package meta is the metadata store of coffer serve (docs/api.md): accounts,
// their device chains, devices and the other principals with their rights,
// authentication challenges and tokens (kept only as SHA-256 hashes),
// compare-and-swap references, pairing mailboxes, quota usage, the creators
// of session objects, and the transparency log (docs/transparency.md): its
// leaves, stored hashes and latest checkpoint, and the account names it
// records. Object bytes are not kept here.
//
// The server reaches the store only through the DB interface, whose methods
// are whole operations (each atomic on its own), so that several server
// instances can share one database. The embedded default is SQLite
// (OpenSQLite); PostgreSQL (OpenPostgres) serves any number of instances.
// Both pass the conformance suite in metatest.
package meta

import (
	"context"
	"errors"
	"time"

	"github.com/coffer-backup/coffer/internal/tlog"
)

// Errors returned (possibly wrapped) by every DB implementation.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrConflict = errors.New("conflict")
	ErrQuota    = errors.New("quota exceeded")
)

// Rights is what a principal may do in its account (docs/api.md,
// Principals). Devices have Full or AppendOnly; the account's recovery key
// and its recovery contacts are principals with Recovery and Contact.
type Rights string

// The rights.
const (
	Full       Rights = "full"        // read, write, delete and admin
	AppendOnly Rights = "append-only" // read and write of new objects only
	Recovery   Rights = "recovery"    // the chain, keys and config objects
	Contact    Rights = "contact"     // the chain and its own key shares
	// Web is a browser session (docs/web.md, Protocol): it reads the
	// chain and every object but keys, writes nothing, and is refused
	// outside the window its chain entry gives (the server checks that
	// against the chain on every request).
	Web Rights = "web"
)

// Device reports whether r is the rights of a device (Full or AppendOnly).
func (r Rights) Device() bool { return r == Full || r == AppendOnly }

// Device is a principal of an account: a device, the recovery key or a
// recovery contact. Only devices (Rights.Device) are listed by Devices.
type Device struct {
	ID      string    // 32 hex digits: SHA-256 of SignKey, first 16 bytes
	SignKey []byte    // Ed25519 public key, 32 bytes
	Name    string    // printable label chosen by the device
	Rights  Rights    // what it may do
	AddedBy string    // ID of the principal whose chain entry added it; empty for the first device
	Added   time.Time // when it was added
	Revoked time.Time // when it was revoked; zero while active
}

// Active reports whether the device has not been revoked.
func (d Device) Active() bool { return d.Revoked.IsZero() }

// Change is what one chain entry does to an account's principals, applied
// in the transaction that stores the entry: first Revoke, then Add.
type Change struct {
	// At is when the change happens: the time of its revocations.
	At time.Time
	// Revoke lists principals that stop being ones, by ID and role: a
	// device's rights revoke a device, Recovery or Contact only such a
	// principal. A principal that is not active in that role is left as it
	// is. Revoking drops its tokens and challenges.
	Revoke []Device
	// Add lists principals that become active. A device takes the place of
	// a recovery or contact principal of the same ID; a recovery or contact
	// principal whose ID is a device's (active or revoked) is not added, as
	// that key keeps its device role; one whose ID was revoked as such a
	// principal is made active again. Adding a device whose ID the account
	// has, or had, as a device fails with ErrExists.
	Add []Device
}

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

// Publication is the shared state of the log's checkpoint publication:
// the stored checkpoint, when it was published, and how far each witness
// has cosigned.
type Publication struct {
	Size uint64    // tree size of Note
	Note []byte    // the signed, cosigned checkpoint; nil if none is stored
	At   time.Time // when Note was published (the publisher's clock)
	// Witnesses maps a witness's verifier key to the tree size of the
	// last checkpoint it cosigned. Publish stores the entries of the map
	// it is given and keeps those of other witnesses.
	Witnesses map[string]uint64
}

// DB is the metadata store. Every method is atomic and safe for concurrent
// use by goroutines and by several processes sharing the database. Times
// are passed in by the caller, so that expiry is decided by one clock.
type DB interface {
	// CreateAccount creates an account whose device chain is genesis
	// alone, and applies the genesis entry's change (its device and its
	// recovery principal). c.At is the account's creation time. It fails
	// with ErrExists if the account exists.
	// In the same transaction it appends the genesis entry's chain leaf to
	// the transparency log and returns that leaf's index.
	CreateAccount(ctx context.Context, account string, genesis []byte, c Change) (index uint64, err error)

	// Device returns one device of an account, revoked or not, or
	// ErrNotFound (also if the account does not exist).
	Device(ctx context.Context, account, id string) (Device, error)
	// Devices returns every device of an account (not its other
	// principals), revoked or not, in order of addition.
	Devices(ctx context.Context, account string) ([]Device, error)

	// ChainHead returns the number of entries of an account's device chain
	// and the SHA-256 of the last one (zero for an empty chain), or
	// ErrNotFound if the account does not exist.
	ChainHead(ctx context.Context, account string) (length uint64, head Hash, err error)
	// ChainEntries returns entries from, from+1, … of an account's chain in
	// order: at most maxEntries, and at most maxBytes in all unless the
	// first alone is larger; none if the chain is shorter than from+1. It
	// returns ErrNotFound if the account does not exist.
	ChainEntries(ctx context.Context, account string, from uint64, maxEntries, maxBytes int) ([][]byte, error)
	// AppendChain stores entry as number seq ≥ 1 of an account's chain and
	// applies c, in one transaction, if the chain holds exactly seq entries
	// and the last one's SHA-256 is prev, and appends the entry's chain
	// leaf to the transparency log in the same transaction; it returns the
	// new length and the leaf's index. Otherwise it returns the current
	// length and ErrConflict, and changes nothing. The caller has verified
	// the entry against that chain.
	AppendChain(ctx context.Context, account string, seq uint64, prev Hash, entry []byte, c Change) (length, index uint64, err error)

	// RegisterName maps an account name to an account that has a device
	// chain and appends the name leaf (docs/transparency.md §T.1) to the
	// transparency log, in one transaction; it returns the leaf's index. It
	// fails with ErrExists if the name is taken (by any account), with
	// ErrQuota if the account has max names already, and with ErrNotFound
	// if the account does not exist or has no chain. The caller has
	// checked the name's form.
	RegisterName(ctx context.Context, account, name string, max int, at time.Time) (index uint64, err error)
	// Name returns the account a name maps to and the index of its name
	// leaf, or ErrNotFound.
	Name(ctx context.Context, name string) (account string, index uint64, err error)

	// LogSize returns the number of leaves of the transparency log.
	LogSize(ctx context.Context) (uint64, error)
	// LogLeaves returns the n leaves of the log from index start, or an
	// error if the log holds fewer.
	LogLeaves(ctx context.Context, start uint64, n int) ([][]byte, error)
	// LogHashes returns the log's stored hashes (x/mod tlog.StoredHashes)
	// at the given storage indexes, or an error if one is missing.
	LogHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	// Checkpoint returns the last checkpoint stored and its tree size, or
	// ErrNotFound if none has been.
	Checkpoint(ctx context.Context) (size uint64, note []byte, err error)
	// Publish calls fn with the stored Publication while the caller holds
	// the right to publish, which one caller at a time holds among every
	// process sharing the database, and then stores the publication fn
	// returns, if any (nil stores nothing). A checkpoint of a smaller tree
	// than the stored one is never stored, so the checkpoint never rolls
	// back. ctx bounds the wait for the right; once it is held, fn and
	// the storing run to their end whatever becomes of ctx. An error from
	// fn is returned as it is, and nothing is stored.
	Publish(ctx context.Context, fn func(ctx context.Context, stored Publication) (*Publication, error)) error

	// BindLogKey records vkey as the verifier key of the log's signing key
	// if none is recorded yet, and fails with ErrConflict if another one
	// is: every process sharing the database signs with one key.
	BindLogKey(ctx context.Context, vkey string) error

	// CreatePairing opens the pairing mailbox id for an account until
	// expires, after forgetting every expired pairing. It fails with
	// ErrExists if a live pairing has that id, and with ErrQuota if the
	// account has max live pairings already.
	CreatePairing(ctx context.Context, id, account string, expires, now time.Time, max int) error
	// PutPairing writes a slot of a live pairing. With account not empty,
	// the pairing must have been created by that account. It fails with
	// ErrNotFound for an unknown or expired pairing (or one of another
	// account) and with ErrExists if the slot was written already.
	PutPairing(ctx context.Context, id string, slot int, account string, body []byte, now time.Time) error
	// PairingSlot returns a slot of a live pairing and whether it has been
	// written, or ErrNotFound for an unknown or expired pairing.
	PairingSlot(ctx context.Context, id string, slot int, now time.Time) (body []byte, written bool, err error)

	// AddChallenge records a challenge issued to a device, and forgets
	// expired ones.
	AddChallenge(ctx context.Context, h Hash, account, device string, expires, now time.Time) error
	// TakeChallenge consumes a challenge: it succeeds once, and only if the
	// challenge was issued to this account and device and has not expired.
	// Otherwise it returns ErrNotFound and changes nothing.
	TakeChallenge(ctx context.Context, h Hash, account, device string, now time.Time) error

	// AddToken records a token issued to a device, and forgets expired ones.
	AddToken(ctx context.Context, h Hash, account, device string, expires, now time.Time) error
	// Token returns the account and principal a token was issued to. It
	// returns ErrNotFound if the token is unknown or expired or its
	// principal has been revoked.
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

	// Export returns every lasting row of the database (Dump), read in
	// one transaction, for a copy to another database.
	Export(ctx context.Context) (*Dump, error)
	// Import writes a Dump into the database in one transaction, so
	// that the database then answers as the exported one did (the same
	// log, checkpoint, accounts, chains and names). It fails with
	// ErrExists, writing nothing, if the database holds an account, a
	// name or a log.
	Import(ctx context.Context, d *Dump) error

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close closes the database.
	Close() error
}

// Package metatest is the conformance suite every meta.DB implementation
// must pass (SQLite and PostgreSQL): accounts and their principals, device
// chains logged in the transparency log, names, pairings, challenges,
// tokens, references, quota, checkpoint publication, and two handles on
// one database (as two server instances) racing on one account, where
// exactly the allowed number of racers must win.
package metatest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/server/meta"
)

// Database is one fresh, empty database made for one test.
type Database interface {
	// Open opens a new handle on the database with connections of its
	// own, as another server instance would. The suite closes it.
	Open() (meta.DB, error)
	// Rows returns the number of rows of a table, so that the suite can
	// check that expired rows are forgotten.
	Rows(table string) (int, error)
}

// Run runs the suite; fresh makes a new empty database for each test and
// arranges for it to be dropped when the test ends.
func Run(t *testing.T, fresh func(t *testing.T) Database) {
	tests := []struct {
		name string
		fn   func(*testing.T, *fixture)
	}{
		{"AccountsAndDevices", testAccountsAndDevices},
		{"Changes", testChanges},
		{"Chain", testChain},
		{"Pairings", testPairings},
		{"Challenges", testChallenges},
		{"Tokens", testTokens},
		{"Refs", testRefs},
		{"UsageAndQuota", testUsageAndQuota},
		{"LogChain", testLogChain},
		{"Names", testNames},
		{"Publish", testPublish},
		{"PublishOneAtATime", testPublishOneAtATime},
		{"LogKey", testLogKey},
		{"RaceChainAppends", testRaceChainAppends},
		{"RaceNames", testRaceNames},
		{"RaceRefs", testRaceRefs},
		{"RaceQuota", testRaceQuota},
		{"RacePairings", testRacePairings},
		{"RaceChallenges", testRaceChallenges},
		{"AppendRate", testAppendRate},
		{"ExportImport", testExportImport},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, &fixture{Database: fresh(t), fresh: fresh})
		})
	}
}

// fixture is the database of one test.
type fixture struct {
	Database
	fresh func(t *testing.T) Database // makes another empty database
}

// open opens a handle closed when the test ends.
func (f *fixture) open(t *testing.T) meta.DB {
	t.Helper()
	db, err := f.Open()
	must(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// rows counts the rows of a table.
func (f *fixture) rows(t *testing.T, table string) int {
	t.Helper()
	n, err := f.Rows(table)
	must(t, err)
	return n
}

var (
	ctx = context.Background()
	t0  = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
)

// The accounts of the populated fixture.
const (
	AcctA = "00112233445566778899aabbccddeeff"
	AcctB = "ffeeddccbbaa99887766554433221100"
)

func device(id string, r meta.Rights) meta.Device {
	return meta.Device{ID: id, SignKey: []byte("key-" + id), Name: "dev " + id, Rights: r, Added: t0}
}

// create creates an account whose genesis adds the given principals.
func create(t *testing.T, db meta.DB, account string, add ...meta.Device) {
	t.Helper()
	_, err := db.CreateAccount(ctx, account, []byte("genesis of "+account), meta.Change{At: t0, Add: add})
	must(t, err)
}

// appendTo appends an entry to the chain.
func appendTo(db meta.DB, account string, entry string, c meta.Change) error {
	n, head, err := db.ChainHead(ctx, account)
	if err != nil {
		return err
	}
	_, _, err = db.AppendChain(ctx, account, n, head, []byte(entry), c)
	return err
}

// Populate makes accounts AcctA (devices a1 full, a2 append-only added by
// entry 1, recovery principal ra) and AcctB (device b1 full) in db; their
// chain leaves are PopulatedLeaves.
func Populate(t *testing.T, db meta.DB) {
	t.Helper()
	create(t, db, AcctA, device("a1", meta.Full), device("ra", meta.Recovery))
	a2 := device("a2", meta.AppendOnly)
	a2.AddedBy = "a1"
	must(t, appendTo(db, AcctA, "add a2", meta.Change{At: t0, Add: []meta.Device{a2}}))
	create(t, db, AcctB, device("b1", meta.Full))
}

// PopulatedLeaves returns the log leaves Populate appends, in order.
func PopulatedLeaves(t *testing.T) [][]byte {
	t.Helper()
	return chainLeaves(t, logged{AcctA, 0, "genesis of " + AcctA}, logged{AcctA, 1, "add a2"}, logged{AcctB, 0, "genesis of " + AcctB})
}

// populated opens a handle on the fixture's database and populates it.
func (f *fixture) populated(t *testing.T) meta.DB {
	t.Helper()
	db := f.open(t)
	Populate(t, db)
	return db
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

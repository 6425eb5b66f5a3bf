package meta

import (
	"fmt"
	"strings"
)

// Dump is every lasting row of a metadata database, read in one
// transaction: what a copy of the database to another implementation
// (coffer serve migrate) carries. Values are int64, []byte, string or nil,
// whichever implementation they come from, so dumps of equal databases
// are equal. Upload reservations are left out: they belong to uploads in
// flight, and a copy is made with no server running.
type Dump struct {
	Tables []TableRows
}

// TableRows is the rows of one table, in dumpTables' columns and order.
type TableRows struct {
	Name string
	Rows [][]any
}

// Rows returns the rows of the named table, or nil.
func (d *Dump) Rows(table string) [][]any {
	for _, t := range d.Tables {
		if t.Name == table {
			return t.Rows
		}
	}
	return nil
}

// dumpTable is a table a Dump holds: its columns common to every
// implementation and the order its rows are read in. An order of
// insertionOrder is the order of insertion (devices are listed in it).
type dumpTable struct {
	name    string
	columns []string
	order   string
}

// insertionOrder stands, in dumpTable.order, for the implementation's
// column of insertion order.
const insertionOrder = "@insertion"

// dumpTables are the tables of a Dump, parents before children.
var dumpTables = []dumpTable{
	{"accounts", cols("id created objects bytes"), "id"},
	{"devices", cols("account id sign_key name rights added_by added revoked"), insertionOrder},
	{"challenges", cols("hash account device expires"), "hash"},
	{"tokens", cols("hash account device expires"), "hash"},
	{"refs", cols("account name value version"), "account, name"},
	{"creators", cols("account kind name device"), "account, kind, name"},
	{"chain", cols("account seq entry"), "account, seq"},
	{"pairings", cols("id account expires"), "id"},
	{"pairing_slots", cols("id slot body"), "id, slot"},
	{"log_leaves", cols("idx leaf"), "idx"},
	{"log_hashes", cols("idx hash"), "idx"},
	{"log_checkpoint", cols("id size note published"), "id"},
	{"log_witnesses", cols("vkey size"), "vkey"},
	{"names", cols("name account idx created"), "name"},
	{"settings", cols("key value"), "key"},
}

func cols(s string) []string { return strings.Fields(s) }

// selectSQL is the query reading the table's rows, with insertion the
// implementation's column of insertion order.
func (t dumpTable) selectSQL(insertion string) string {
	order := strings.ReplaceAll(t.order, insertionOrder, insertion)
	return fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", strings.Join(t.columns, ", "), t.name, order)
}

// normalize turns a value read by either driver into int64, []byte,
// string or nil.
func normalize(v any) any {
	switch x := v.(type) {
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case int16:
		return int64(x)
	}
	return v
}

// emptyTables are the tables that must hold no row for Import to write
// into a database: a copy never merges two logs.
var emptyTables = []string{"accounts", "log_leaves", "log_checkpoint", "names"}

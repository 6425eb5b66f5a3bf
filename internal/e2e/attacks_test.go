package e2e

import (
	"database/sql"
	"encoding/binary"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/devices"

	_ "modernc.org/sqlite" // the server's database, edited as a hostile operator would
)

// operator edits the server's database while it is stopped, as an operator
// who controls the machine can, then starts it again on the same address.
func operator(t *testing.T, srv *serverProc, edit func(db *sql.DB)) *serverProc {
	t.Helper()
	srv.kill()
	db, err := sql.Open("sqlite", filepath.Join(srv.data, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	edit(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return startServer(t, srv.data, srv.listen, "--insecure-http")
}

func chainEntry(t *testing.T, db *sql.DB, account string, seq int) []byte {
	t.Helper()
	var b []byte
	if err := db.QueryRow(`SELECT entry FROM chain WHERE account = ? AND seq = ?`, account, seq).Scan(&b); err != nil {
		t.Fatalf("reading chain entry %d: %v", seq, err)
	}
	return b
}

func sqlExec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// forgeNext returns an entry at seq that links to prev but that no device
// signed: the bytes of entry from with its sequence number and previous
// hash rewritten (docs/devices.md §D.1: seq at offset 2, prev at 10).
func forgeNext(from, prev []byte, seq uint64) []byte {
	b := append([]byte(nil), from...)
	binary.BigEndian.PutUint64(b[2:], seq)
	h := devices.Hash(prev)
	copy(b[10:42], h[:])
	return b
}

// TestChainAttacks plays a server operator who injects a device entry no
// device signed, drops an entry, or reorders entries. Every device that
// verified the chain before refuses the change with a message naming the
// entry and keeps working with its last verified chain; a new device
// trusting the chain for the first time refuses it outright.
func TestChainAttacks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(t *testing.T, db *sql.DB, account string)
		warn  string // what devices that knew the chain say
		fresh string // what a device seeing it first says
	}{
		{"inject", func(t *testing.T, db *sql.DB, acct string) {
			last := chainEntry(t, db, acct, 4)
			sqlExec(t, db, `INSERT INTO chain (account, seq, entry) VALUES (?, 5, ?)`, acct, forgeNext(chainEntry(t, db, acct, 2), last, 5))
		}, "device chain entry 5: .*signature", "device chain entry 5"},
		{"drop", func(t *testing.T, db *sql.DB, acct string) {
			sqlExec(t, db, `DELETE FROM chain WHERE account = ? AND seq = 4`, acct)
		}, "shorter than the one this device verified", ""},
		{"reorder", func(t *testing.T, db *sql.DB, acct string) {
			e3, e4 := chainEntry(t, db, acct, 3), chainEntry(t, db, acct, 4)
			sqlExec(t, db, `UPDATE chain SET entry = ? WHERE account = ? AND seq = 3`, e4, acct)
			sqlExec(t, db, `UPDATE chain SET entry = ? WHERE account = ? AND seq = 4`, e3, acct)
		}, "device chain entry 4: .*(fork|differs)", "sequence number 4 where 3 was expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, t.TempDir(), "127.0.0.1:0", "--insecure-http")
			a, b := newUser(t, "laptop"), newUser(t, "phone")
			src := filepath.Join(t.TempDir(), "src")
			writeTree(t, src, 3, 10<<10)
			var ia initFull
			a.runJSON(t, &ia, "init", "--store", srv.URL)
			a.run(t, "backup", src)
			pair(t, a, b, srv.URL)
			var rot struct {
				RecoveryKey string `json:"recovery_key"`
			}
			a.runJSON(t, &rot, "recovery-key", "rotate") // entries 3 and 4 (1 records the backup)
			b.run(t, "snapshots")                        // B verifies all five entries

			srv = operator(t, srv, func(db *sql.DB) { tc.edit(t, db, ia.Account) })
			for _, u := range []*user{a, b} {
				cmd := u.command(t.Context(), nil, "device", "list", "--json")
				var stderr strings.Builder
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("a device that verified the chain stopped working: %v: %s", err, stderr.String())
				}
				if !matches(stderr.String(), "coffer: warning: refusing the store's device chain, keeping the 5 entries verified before: .*"+tc.warn) {
					t.Errorf("stderr %q does not report %q", stderr.String(), tc.warn)
				}
				if n := strings.Count(string(out), `"id"`); n != 2 {
					t.Errorf("the device lists %d devices after the attack, want its 2: %s", n, out)
				}
			}
			if tc.fresh == "" {
				return
			}
			c := newUser(t, "new-laptop")
			_, err := c.try([]string{"COFFER_RECOVERY_KEY=" + rot.RecoveryKey}, "recover", "--store", srv.URL, "--account", ia.Account)
			if err == nil || !strings.Contains(err.Error(), tc.fresh) {
				t.Errorf("a new device trusting the tampered chain: %v, want %q", err, tc.fresh)
			}
		})
	}
}

// matches reports whether s matches the regular expression re.
func matches(s, re string) bool { return regexp.MustCompile(re).MatchString(s) }

package e2e

import (
	"bufio"
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/server/meta"
)

var witnessRE = regexp.MustCompile(`^coffer: witness (\S+) listening on (\S+)$`)

// witnessProc is a running coffer witness serve process.
type witnessProc struct {
	vkey, url string
}

// startWitness runs a witness of the log with verifier key logKey.
func startWitness(t *testing.T, logKey string) witnessProc {
	t.Helper()
	cmd := exec.Command(coffer, "witness", "serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--log", logKey)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	found := make(chan witnessProc, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := witnessRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- witnessProc{vkey: m[1], url: m[2]}
			}
		}
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	select {
	case w := <-found:
		return w
	case <-done:
		t.Fatal("coffer witness serve exited")
	case <-time.After(20 * time.Second):
		t.Fatal("coffer witness serve did not say where it listens")
	}
	return witnessProc{}
}

// witnessed is a server whose log two witnesses cosign, and the flags a
// client gives to require both.
type witnessed struct {
	srv    *serverProc
	flags  []string // --witness VKEY ... for init, join and recover
	serves []string // the server's --witness flags
}

func startWitnessed(t *testing.T) *witnessed {
	t.Helper()
	data := t.TempDir()
	srv := startServer(t, data, "127.0.0.1:0", "--insecure-http")
	srv.kill() // it made its log key; the witnesses need it
	b, err := os.ReadFile(filepath.Join(data, "log.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	w := &witnessed{}
	for range 2 {
		wp := startWitness(t, strings.TrimSpace(string(b)))
		w.flags = append(w.flags, "--witness", wp.vkey)
		w.serves = append(w.serves, "--witness", wp.vkey+"="+wp.url)
	}
	w.srv = w.start(t, data, srv.listen)
	return w
}

// start runs the server on data at listen with the witnesses.
func (w *witnessed) start(t *testing.T, data, listen string) *serverProc {
	return startServer(t, data, listen, append([]string{"--insecure-http"}, w.serves...)...)
}

// restart stops the server, lets edit change its data directory, and
// starts it again on the same address.
func (w *witnessed) restart(t *testing.T, edit func(data string)) {
	t.Helper()
	w.srv.kill()
	edit(w.srv.data)
	w.srv = w.start(t, w.srv.data, w.srv.listen)
}

func (w *witnessed) init(t *testing.T, u *user, extra ...string) initFull {
	t.Helper()
	var in initFull
	u.runJSON(t, &in, append(append([]string{"init", "--store", w.srv.URL}, w.flags...), extra...)...)
	return in
}

type verifyOut struct {
	Entries uint64 `json:"chain_entries"`
	Log     struct {
		Size      uint64   `json:"size"`
		Witnesses []string `json:"witnesses"`
		Logged    int      `json:"entries_logged"`
	} `json:"log"`
}

// copyDir copies a server's data directory (its database and objects).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from+"/.", to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
}

func replaceDir(t *testing.T, dir, with string) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	copyDir(t, with, dir)
}

// wantFail runs coffer as u and requires it to fail with stderr matching re.
func wantFail(t *testing.T, u *user, re string, args ...string) {
	t.Helper()
	_, err := u.try(nil, args...)
	if err == nil || !regexp.MustCompile(re).MatchString(err.Error()) {
		t.Errorf("coffer %s: %v, want an error matching %q", strings.Join(args, " "), err, re)
	}
}

// TestTransparency runs a server whose log two witness processes cosign
// and plays issue 5's attacks against its clients: a rollback, a split
// view, an entry hidden from one device, and a forged account name.
func TestTransparency(t *testing.T) {
	t.Run("cosigned", func(t *testing.T) {
		w := startWitnessed(t)
		a := newUser(t, "laptop")
		w.init(t, a)
		var v verifyOut
		a.runJSON(t, &v, "verify")
		if len(v.Log.Witnesses) != 2 || v.Log.Logged != int(v.Entries) || v.Log.Size < v.Entries {
			t.Errorf("verify: %+v, want both witnesses and every chain entry logged", v)
		}
	})
	t.Run("rollback", func(t *testing.T) {
		w := startWitnessed(t)
		a := newUser(t, "laptop")
		w.init(t, a)
		old := t.TempDir()
		w.restart(t, func(data string) { copyDir(t, data, old) })
		a.run(t, "recovery-key", "rotate") // two more entries, logged and cosigned
		a.run(t, "verify")
		w.restart(t, func(data string) { replaceDir(t, data, old) })
		wantFail(t, a, `the log's checkpoint is older than one this device verified \(rolled back\)`, "snapshots")
	})
	t.Run("split view", func(t *testing.T) {
		w := startWitnessed(t)
		a, b, c := newUser(t, "alice"), newUser(t, "bob"), newUser(t, "carol")
		w.init(t, a)
		fork := t.TempDir()
		w.restart(t, func(data string) { copyDir(t, data, fork) })
		w.init(t, b) // the real log grows, cosigned by the witnesses
		// The operator runs the copy, on another address, and grows it
		// differently: the witnesses refuse to cosign the fork, so a client
		// requiring them refuses it too.
		forked := w.start(t, fork, "127.0.0.1:0")
		wantFail(t, c, `valid cosignatures from 0 of the 2 witnesses required`, append([]string{"init", "--store", forked.URL}, w.flags...)...)
		// A client that saw the real log, shown the fork at the same size
		// under the same name, sees the split even without witnesses.
		d := newUser(t, "dave")
		d.run(t, "init", "--store", w.srv.URL)
		w.restart(t, func(data string) { replaceDir(t, data, fork) })
		forkGrow := newUser(t, "mallory")
		forkGrow.run(t, "init", "--store", w.srv.URL) // same size as the real log, another root
		wantFail(t, d, `\(split view\)`, "snapshots")
	})
	t.Run("hidden entry", func(t *testing.T) {
		w := startWitnessed(t)
		a, b := newUser(t, "laptop"), newUser(t, "phone")
		in := w.init(t, a)
		pair(t, a, b, w.srv.URL)
		b.run(t, "snapshots")
		a.run(t, "recovery-key", "rotate") // entries 2 and 3, logged
		// The operator hides them from the phone: the chain it serves lacks
		// them, the public log still has them.
		w.restart(t, func(data string) {
			editDB(t, data, func(db *sql.DB) {
				sqlExec(t, db, `DELETE FROM chain WHERE account = ? AND seq >= 2`, in.Account)
			})
		})
		wantFail(t, b, `entry 2 of your account is in the public log \(leaf [0-9]+\) but not in the chain`, "snapshots")
	})
	t.Run("forged name", func(t *testing.T) {
		w := startWitnessed(t)
		a, m := newUser(t, "alice"), newUser(t, "mallory")
		w.init(t, a, "--account-name", "alice")
		mallory := w.init(t, m)
		// The operator maps "alice" to Mallory's account in its database
		// and log, as its own code could.
		w.restart(t, func(data string) {
			editDB(t, data, func(db *sql.DB) {
				sqlExec(t, db, `DELETE FROM names WHERE name = 'alice'`)
			})
			mdb, err := meta.OpenSQLite(filepath.Join(data, "meta.db"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := mdb.RegisterName(context.Background(), mallory.Account, "alice", 4, time.Now()); err != nil {
				t.Fatal(err)
			}
			mdb.Close()
		})
		newUser(t, "bystander").run(t, append([]string{"init", "--store", w.srv.URL}, w.flags...)...) // a new checkpoint covers the forged leaf
		wantFail(t, a, `maps your account name to another account, `+mallory.Account, "snapshots")
	})
}

// editDB opens the server's database in data while the server is stopped.
func editDB(t *testing.T, data string, edit func(*sql.DB)) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(data, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	edit(db)
}

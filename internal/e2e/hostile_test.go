package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/snapshot"
	storeopen "github.com/coffer-backup/coffer/internal/store/open"
)

// snapRow is what "snapshots --json" reports of one snapshot.
type snapRow struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Hostname string    `json:"hostname"`
	Paths    []string  `json:"paths"`
	Tree     string    `json:"tree"`
	Author   struct {
		Device, Name, Rights string
	} `json:"author"`
}

func snapshotsOf(t *testing.T, u *user) []snapRow {
	t.Helper()
	var rows []snapRow
	u.runJSON(t, &rows, "snapshots")
	return rows
}

// malware is an append-only device's own credentials used by a program
// that is not Coffer: it writes through the normal API whatever it likes.
type malware struct {
	repo  *repo.Repo
	chain *account.Chain
	u     *user
	t     *testing.T
}

func openMalware(t *testing.T, u *user, url, acct string) *malware {
	t.Helper()
	dev := u.device(t)
	st, err := storeopen.Open(url, storeopen.Options{Account: acct, Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	r, c, _, err := account.Open(context.Background(), &home.Home{Dir: u.home}, st, dev, acct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); st.Close() })
	return &malware{r, c, u, t}
}

// forge writes a snapshot of tree claiming host, paths and time, and
// records it in the chain with the device's own valid signature.
func (m *malware) forge(tree blob.ID, host string, paths []string, at time.Time) blob.ID {
	m.t.Helper()
	ctx := context.Background()
	id, err := m.repo.SaveSnapshot(ctx, &snapshot.Snapshot{Time: at, Hostname: host, Username: "root", Paths: paths, Tree: tree, ProgramVersion: "coffer"})
	if err != nil {
		m.t.Fatal(err)
	}
	dev := m.u.device(m.t)
	defer dev.Zero()
	if m.chain, err = account.RecordSnapshot(ctx, m.repo.Store(), m.chain, dev, id); err != nil {
		m.t.Fatal(err)
	}
	return id
}

// TestForgedSnapshots plays issue 11's attack 2: malware on an
// append-only device records a dozen snapshots dated in the future that
// claim the full device's host and paths and hold the attacker's files.
// The full device's forget policy must not delete its own snapshots
// because of them, "latest" must stay its own, its next backup must not
// take a forged parent, and snapshots must say who wrote what.
func TestForgedSnapshots(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", "--insecure-http")
	a, b := newUser(t, "laptop"), newUser(t, "nas")
	src, evil := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "evil")
	writeTree(t, src, 1, 30<<10, 5<<10)
	writeTree(t, evil, 2, 30<<10, 5<<10)
	var ia initFull
	a.runJSON(t, &ia, "init", "--store", srv.URL)
	a.run(t, "backup", src)
	pair(t, a, b, srv.URL, "--append-only")
	b.run(t, "backup", evil)
	rows := snapshotsOf(t, a)
	evilTree, _ := blob.ParseID(rows[1].Tree)
	host, _ := os.Hostname()

	m := openMalware(t, b, srv.URL, ia.Account)
	for i := range 12 {
		m.forge(evilTree, host, []string{src}, time.Now().AddDate(0, i+1, 0))
	}
	rows = snapshotsOf(t, a)
	if len(rows) != 14 || rows[0].Author.Name != "laptop" || rows[0].Author.Rights != "full" || rows[13].Author.Rights != "append-only" {
		t.Fatalf("snapshots: %+v", rows)
	}
	a.run(t, "forget", "--keep-daily", "7", "--keep-weekly", "5", "--keep-monthly", "12", "--prune")
	if rows := snapshotsOf(t, a); !hasAuthor(rows, "laptop") {
		t.Fatalf("the full device's snapshot was forgotten: %+v", rows)
	}
	out := filepath.Join(t.TempDir(), "out")
	a.run(t, "restore", "latest", "--target", out)
	sameTree(t, filepath.Join(out, "src"), src)
	var res struct{ Parent *string }
	a.runJSON(t, &res, "backup", src)
	if res.Parent == nil || *res.Parent != rows[0].ID {
		t.Errorf("backup took parent %v, want the full device's %s", res.Parent, rows[0].ID)
	}
}

func hasAuthor(rows []snapRow, name string) bool {
	for _, r := range rows {
		if r.Author.Name == name {
			return true
		}
	}
	return false
}

// TestUnrecordedSnapshot: a snapshot object that no chain entry records
// (written by malware that skipped the chain, or by the store) is ignored
// and reported, never listed or restored.
func TestUnrecordedSnapshot(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", "--insecure-http")
	a, b := newUser(t, "laptop"), newUser(t, "nas")
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, 3, 10<<10)
	var ia initFull
	a.runJSON(t, &ia, "init", "--store", srv.URL)
	a.run(t, "backup", src)
	pair(t, a, b, srv.URL, "--append-only")
	m := openMalware(t, b, srv.URL, ia.Account)
	tree, _ := blob.ParseID(snapshotsOf(t, a)[0].Tree)
	id, err := m.repo.SaveSnapshot(context.Background(), &snapshot.Snapshot{Time: time.Now().Add(time.Hour), Hostname: "laptop", Paths: []string{src}, Tree: tree, ProgramVersion: "x"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.try(nil, "snapshots")
	if err != nil || strings.Contains(out, id.Short()) {
		t.Fatalf("snapshots listed the unrecorded one or failed: %v\n%s", err, out)
	}
	if _, err := a.try(nil, "ls", id.String()); err == nil {
		t.Error("ls of an unrecorded snapshot worked")
	}
	var rep struct{ Notes []string }
	a.runJSON(t, &rep, "check")
	if !strings.Contains(strings.Join(rep.Notes, "\n"), id.Short()+" is ignored") {
		t.Errorf("check notes %q do not name %s", rep.Notes, id.Short())
	}
}

// TestHiddenSnapshot plays issue 11's attack 3: the operator deletes the
// newest snapshot's object. The device that wrote it and another device
// that saw it both refuse to answer as if it never existed; restoring a
// forgotten snapshot's object brings nothing back.
func TestHiddenSnapshot(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data, "127.0.0.1:0", "--insecure-http")
	a, c := newUser(t, "laptop"), newUser(t, "desktop")
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, 4, 10<<10)
	var ia initFull
	a.runJSON(t, &ia, "init", "--store", srv.URL)
	a.run(t, "backup", src)
	pair(t, a, c, srv.URL)
	a.run(t, "backup", src)
	rows := snapshotsOf(t, c)
	newest := rows[len(rows)-1].ID
	obj := filepath.Join(data, "accounts", ia.Account, "snapshots", newest)
	saved, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(obj); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{a, c} {
		for _, args := range [][]string{{"snapshots"}, {"restore", "latest", "--target", t.TempDir()}, {"check"}} {
			_, err := u.try(nil, args...)
			if err == nil || !strings.Contains(err.Error(), newest[:8]) || !strings.Contains(err.Error(), "missing from the store") {
				t.Errorf("%s %v with the newest snapshot hidden: %v", u.home, args, err)
			}
		}
	}
	// Put back, forget the older one, then bring back its object.
	if err := os.WriteFile(obj, saved, 0o444); err != nil {
		t.Fatal(err)
	}
	older := rows[0].ID
	olderObj := filepath.Join(data, "accounts", ia.Account, "snapshots", older)
	olderBytes := mustRead(t, olderObj)
	a.run(t, "forget", "--keep-last", "1")
	if _, err := os.Stat(olderObj); err == nil {
		t.Fatal("forget left the object")
	}
	if err := os.WriteFile(olderObj, olderBytes, 0o444); err != nil {
		t.Fatal(err)
	}
	got := snapshotsOf(t, c)
	if len(got) != 1 || got[0].ID != newest {
		t.Errorf("after the store brought back a forgotten snapshot: %+v", got)
	}
	if _, err := c.try(nil, "ls", older); err == nil {
		t.Error("ls of a forgotten snapshot brought back worked")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/hostile"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/keys"
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

// TestAppendOnlyRightsInChain plays issue 11's attack 6: an operator
// working with malware on an append-only device puts into the account's
// chain an entry the append-only device signed that only a full device may
// sign (here, removing the full device). The server never accepts it
// through the API; written straight into its database, every device that
// verifies the chain refuses it, naming the missing right.
func TestAppendOnlyRightsInChain(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", "--insecure-http")
	a, b := newUser(t, "laptop"), newUser(t, "nas")
	var ia initFull
	a.runJSON(t, &ia, "init", "--store", srv.URL)
	pair(t, a, b, srv.URL, "--append-only")
	var devs []struct{ ID, Name, Rights string }
	a.runJSON(t, &devs, "device", "list")
	if len(devs) != 2 || rightsOf(devs, "nas") != "append-only" || rightsOf(devs, "laptop") != "full" {
		t.Fatalf("device list: %+v", devs)
	}
	m := openMalware(t, b, srv.URL, ia.Account)
	dev := b.device(t)
	defer dev.Zero()
	forged := signedBy(m.chain.Chain, &devices.Entry{Type: devices.TypeRemoveDevice, Remove: ia.Device, Epoch: 1, Commit: [32]byte{1}}, dev)
	if err := m.repo.Store().(interface {
		AppendChain(context.Context, uint64, []byte) error
	}).AppendChain(context.Background(), m.chain.Len(), forged); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("the server accepted an append-only device's removal of a full device: %v", err)
	}
	srv = operator(t, srv, func(db *sql.DB) {
		sqlExec(t, db, `INSERT INTO chain (account, seq, entry) VALUES (?, ?, ?)`, ia.Account, m.chain.Len(), forged)
	})
	_, stderr := a.runStderr(t, "device", "list")
	if !strings.Contains(stderr, "does not have the right to sign this entry") {
		t.Errorf("the full device did not refuse the entry: %q", stderr)
	}
	c := newUser(t, "desktop")
	if _, err := c.try([]string{"COFFER_RECOVERY_KEY=" + ia.RecoveryKey}, "recover", "--store", srv.URL, "--account", ia.Account); err == nil ||
		!strings.Contains(err.Error(), "does not have the right") {
		t.Errorf("a new device trusting the chain: %v", err)
	}
}

func rightsOf(devs []struct{ ID, Name, Rights string }, name string) string {
	for _, d := range devs {
		if d.Name == name {
			return d.Rights
		}
	}
	return ""
}

// signedBy returns e as the next entry of c, signed by dev without the
// builders' checks: what a hostile device can make.
func signedBy(c *devices.Chain, e *devices.Entry, dev *keys.Device) []byte {
	e.Account, e.Seq, e.Prev, e.Signer = c.Account(), c.Len(), c.Head(), dev.ID
	e.Time = time.Now().Truncate(time.Second).UTC()
	e.Sig = ed25519.Sign(dev.Sign, crypt.AD("coffer v1 device chain", e.Marshal()))
	return e.Marshal()
}

// runStderr runs coffer, which must succeed, and returns both outputs.
func (u *user) runStderr(t *testing.T, args ...string) (string, string) {
	t.Helper()
	cmd := u.command(t.Context(), nil, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("coffer %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), stderr.String()
}

// TestForgedPrunePlan: malware on an append-only device seals a prune plan
// that schedules every pack for deletion (it holds the data keys), and the
// operator puts it into the store (the server refuses prune objects from
// an append-only device). Honoured, it would make every backup treat the
// account's packs as gone and upload everything again, and a prune delete
// whatever the plan names that it does not see referenced. No chain entry
// records it, so the full device ignores it: an unchanged backup adds no
// pack, and after a prune every snapshot still restores.
func TestForgedPrunePlan(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data, "127.0.0.1:0", "--insecure-http")
	a, b := newUser(t, "laptop"), newUser(t, "nas")
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, 5, 200<<10, 30<<10)
	var ia initFull
	a.runJSON(t, &ia, "init", "--store", srv.URL)
	a.run(t, "backup", src)
	pair(t, a, b, srv.URL, "--append-only")
	m := openMalware(t, b, srv.URL, ia.Account)
	sizes, err := m.repo.PackSizes(context.Background())
	if err != nil || len(sizes) == 0 {
		t.Fatalf("packs: %v %v", sizes, err)
	}
	plan := repo.PrunePlan{Created: time.Now().Add(-48 * time.Hour)}
	for id := range sizes {
		plan.Packs = append(plan.Packs, id)
	}
	pt, _ := json.Marshal(plan)
	id, env, err := m.repo.SealObject(crypt.ADPrune, pt)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.repo.Store().Put(context.Background(), "prune", id.String(), bytes.NewReader(env), int64(len(env))); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("the server took a prune plan from an append-only device: %v", err)
	}
	dir := filepath.Join(data, "accounts", ia.Account, "prune")
	if err := os.WriteFile(filepath.Join(dir, id.String()), env, 0o444); err != nil {
		t.Fatal(err)
	}
	packs := func() int {
		n := 0
		filepath.WalkDir(filepath.Join(data, "accounts", ia.Account, "packs"), func(_ string, d os.DirEntry, _ error) error {
			if d != nil && d.Type().IsRegular() {
				n++
			}
			return nil
		})
		return n
	}
	before := packs()
	a.run(t, "backup", src)
	if after := packs(); after != before {
		t.Errorf("an unchanged backup went from %d to %d packs: it honoured the forged plan", before, after)
	}
	a.run(t, "prune")
	out := filepath.Join(t.TempDir(), "out")
	a.run(t, "restore", "latest", "--target", out)
	sameTree(t, filepath.Join(out, "src"), src)
	a.run(t, "check", "--read-data")
}

// TestPreemptiveFalseCopy: malware on an append-only device knows a file
// the full device will back up later (both machines see it), computes its
// blob's ID (it holds the ID key) and lists a false copy of it, in a pack
// of random bytes and in index objects, one unsigned and one signed by
// itself, before the full device ever stores it. The full device's backup
// must not take the false copy for the blob: it stores the blob itself,
// and the snapshot restores.
func TestPreemptiveFalseCopy(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", "--insecure-http")
	a, b := newUser(t, "laptop"), newUser(t, "nas")
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, 12, 20<<10)
	var ia initFull
	a.runJSON(t, &ia, "init", "--store", srv.URL)
	a.run(t, "backup", src)
	pair(t, a, b, srv.URL, "--append-only")

	future := bytes.Repeat([]byte("a file both machines can read\n"), 3000) // one chunk
	m := openMalware(t, b, srv.URL, ia.Account)
	ctx := context.Background()
	id := m.repo.Hash(blob.Data, future)
	fake := index.Blob{Type: blob.Data, ID: id, Length: 2000, RawLength: uint32(len(future))}
	p, err := hostile.Pack(ctx, m.repo, []index.Blob{fake}, hostile.RandomBytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.repo.SaveIndex(ctx, &index.File{Packs: []index.Pack{p}}); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(filepath.Join(src, "future.txt"), future, 0o644); err != nil {
		t.Fatal(err)
	}
	a.run(t, "backup", src)
	out := filepath.Join(t.TempDir(), "out")
	a.run(t, "restore", "latest", "--target", out)
	sameTree(t, filepath.Join(out, "src"), src)
}

// Package e2e runs the real coffer binary against a real coffer serve
// process: every command through a server exactly as through a local
// directory, crashes of the server and of the client during a backup, and
// many concurrent clients.
package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/remote"
)

type initOut struct {
	Account string `json:"account"`
	Store   string `json:"store"`
}

type backupOut struct {
	Snapshot string `json:"snapshot"`
	Summary  struct {
		BytesAdded uint64 `json:"bytes_added"`
		TotalBytes uint64 `json:"total_bytes"`
	} `json:"summary"`
}

type snapOut struct {
	ID string `json:"id"`
}

// TestCommands runs init, backup, snapshots, restore, check --read-data and
// forget --prune through a server, for two devices in two accounts, and
// checks that each sees only its own account.
func TestCommands(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", "--insecure-http")
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	work := t.TempDir()
	src := filepath.Join(work, "src")
	writeTree(t, src, 1, 3<<20, 100<<10, 1, 0, 70<<10)

	var ia initOut
	alice.runJSON(t, &ia, "init", "--store", srv.URL)
	if ia.Store != srv.URL {
		t.Errorf("init reports store %q, want %q", ia.Store, srv.URL)
	}
	h := home.Home{Dir: alice.home}
	if s, err := h.Settings(); err != nil || s.DefaultStore != srv.URL || s.Accounts[srv.URL] != ia.Account {
		t.Errorf("settings after init: %+v, %v", s, err)
	}
	var b1, b2 backupOut
	alice.runJSON(t, &b1, "backup", src)
	writeTree(t, src, 2, 200<<10) // changes d0/f0.bin
	alice.runJSON(t, &b2, "backup", src)
	if b2.Summary.BytesAdded >= b1.Summary.BytesAdded {
		t.Errorf("the second backup added %d bytes, the first %d: nothing was deduplicated", b2.Summary.BytesAdded, b1.Summary.BytesAdded)
	}
	var snaps []snapOut
	alice.runJSON(t, &snaps, "snapshots")
	if len(snaps) != 2 {
		t.Fatalf("%d snapshots, want 2", len(snaps))
	}
	out := filepath.Join(work, "out")
	alice.run(t, "restore", "latest", "--target", out)
	sameTree(t, filepath.Join(out, "src"), src)
	alice.run(t, "check", "--read-data")
	alice.run(t, "forget", "--keep-last", "1", "--prune")
	alice.runJSON(t, &snaps, "snapshots")
	if len(snaps) != 1 || !strings.HasPrefix(b2.Snapshot, snaps[0].ID[:8]) {
		t.Errorf("after forget: %+v, want only %s", snaps, b2.Snapshot)
	}
	alice.run(t, "check", "--read-data")
	out2 := filepath.Join(work, "out2")
	alice.run(t, "restore", "latest", "--target", out2)
	sameTree(t, filepath.Join(out2, "src"), src)

	// Bob has his own account on the same server and sees only it.
	var ib initOut
	bob.runJSON(t, &ib, "init", "--store", srv.URL)
	bob.runJSON(t, &snaps, "snapshots")
	if ib.Account == ia.Account || len(snaps) != 0 {
		t.Errorf("bob's account %s (alice's %s) shows %d snapshots", ib.Account, ia.Account, len(snaps))
	}
	if _, err := bob.try([]string{"COFFER_ACCOUNT=" + ia.Account}, "snapshots"); err == nil || !strings.Contains(err.Error(), "authenticating") {
		t.Errorf("bob's device in alice's account: %v", err)
	}
	stranger := newUser(t, "stranger")
	if _, err := stranger.try(nil, "snapshots", "--store", srv.URL); err == nil || !strings.Contains(err.Error(), "COFFER_ACCOUNT") {
		t.Errorf("a device with no account for the store: %v", err)
	}
}

// TestPinnedTLS runs commands against a server with its self-signed
// certificate, pinned in the store URL it prints, and checks that a wrong
// pin is refused.
func TestPinnedTLS(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0")
	if !strings.HasPrefix(srv.URL, "https://") || !strings.Contains(srv.URL, "#sha256=") {
		t.Fatalf("the server serves on %s, not a pinned https:// URL", srv.URL)
	}
	u := newUser(t, "tls")
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, 5, 1<<20, 10)
	var ia initOut
	u.runJSON(t, &ia, "init", "--store", srv.URL)
	u.run(t, "backup", src)
	out := filepath.Join(t.TempDir(), "out")
	u.run(t, "restore", "latest", "--target", out)
	sameTree(t, filepath.Join(out, "src"), src)
	wrong := srv.URL[:len(srv.URL)-1] + string("10"[srv.URL[len(srv.URL)-1]&1])
	if _, err := u.try([]string{"COFFER_ACCOUNT=" + ia.Account}, "snapshots", "--store", wrong); err == nil || !strings.Contains(err.Error(), "does not match the pinned") {
		t.Errorf("a wrong pin: %v", err)
	}
}

// countPacks returns how many packs the account holds on the server.
func countPacks(t *testing.T, s *remote.Store) int {
	n := 0
	err := s.List(context.Background(), store.Packs, func(store.ObjectInfo) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitPacks waits until the account holds at least n packs.
func waitPacks(t *testing.T, s *remote.Store, n int) {
	for deadline := time.Now().Add(30 * time.Second); countPacks(t, s) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d packs after 30 s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCrashes kills the server, then the client, with SIGKILL during a
// backup. The backup rides out the server's restart; the backup run after
// the client's crash reuses the packs the crashed one uploaded; and check
// --read-data finds nothing wrong.
func TestCrashes(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data, "127.0.0.1:0", "--insecure-http")
	u := newUser(t, "crash")
	var ia initOut
	u.runJSON(t, &ia, "init", "--store", srv.URL)
	st, _ := u.remoteStore(t, srv.URL, ia.Account)
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, 3, 40<<20, 40<<20, 20<<20)

	// The server dies while the backup uploads, and comes back.
	backup := u.command(context.Background(), nil, "backup", src)
	if err := backup.Start(); err != nil {
		t.Fatal(err)
	}
	waitPacks(t, st, 1)
	srv.kill()
	time.Sleep(300 * time.Millisecond)
	startServer(t, data, srv.listen, "--insecure-http")
	if err := backup.Wait(); err != nil {
		t.Errorf("the backup failed across the server's restart: %v", err)
	}
	u.run(t, "check", "--read-data")

	// The client dies while it uploads; the next backup reuses its packs.
	writeTree(t, src, 4, 40<<20, 40<<20)
	before := countPacks(t, st)
	backup = u.command(context.Background(), nil, "backup", src)
	if err := backup.Start(); err != nil {
		t.Fatal(err)
	}
	waitPacks(t, st, before+2)
	backup.Process.Kill()
	backup.Wait()
	var b backupOut
	u.runJSON(t, &b, "backup", src)
	if b.Summary.BytesAdded > 60<<20 {
		t.Errorf("the backup after the crash added %d bytes of 80 MiB changed: the crashed backup's packs were not reused", b.Summary.BytesAdded)
	}
	t.Logf("after the client's crash the backup added %.1f MiB of 80 MiB changed", float64(b.Summary.BytesAdded)/(1<<20))
	u.run(t, "check", "--read-data")
	out := filepath.Join(t.TempDir(), "out")
	u.run(t, "restore", "latest", "--target", out)
	sameTree(t, filepath.Join(out, "src"), src)
	var snaps []snapOut
	u.runJSON(t, &snaps, "snapshots")
	if len(snaps) < 2 {
		t.Errorf("%d snapshots, want at least 2", len(snaps))
	}
}

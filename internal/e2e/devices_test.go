package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/pairing"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store/local"
)

type deviceOut struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	AddedBy     string `json:"added_by"`
}

type initFull struct {
	Account     string `json:"account"`
	RecoveryKey string `json:"recovery_key"`
	Device      string `json:"device"`
}

// pair runs "device add" on adder and "join" on joiner, as two people at
// two machines would, and returns what the adder reports about the new
// device.
func pair(t *testing.T, adder, joiner *user, url string, addExtra ...string) deviceOut {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	add := adder.command(ctx, nil, append([]string{"device", "add", "--json", "--timeout", "50s"}, addExtra...)...)
	stdout, err := add.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var addErr strings.Builder
	add.Stderr = &addErr
	if err := add.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		add.Wait()
		t.Fatalf("device add printed no code: %s", addErr.String())
	}
	var code struct{ Code string }
	if err := json.Unmarshal(lines.Bytes(), &code); err != nil || code.Code == "" {
		t.Fatalf("device add's first line %q: %v", lines.Text(), err)
	}
	joined := joiner.run(t, "join", "--store", url, "--code", code.Code, "--json")
	var added deviceOut
	if !lines.Scan() || json.Unmarshal(lines.Bytes(), &added) != nil {
		add.Wait()
		t.Fatalf("device add's result %q; stderr: %s", lines.Text(), addErr.String())
	}
	if err := add.Wait(); err != nil {
		t.Fatalf("device add: %v: %s", err, addErr.String())
	}
	var j struct{ Device, Fingerprint string }
	if err := json.Unmarshal([]byte(joined), &j); err != nil || j.Device != added.ID || j.Fingerprint != added.Fingerprint {
		t.Fatalf("join says %q, device add says %+v", joined, added)
	}
	return added
}

func snapshotCount(t *testing.T, u *user) int {
	t.Helper()
	var snaps []snapOut
	u.runJSON(t, &snaps, "snapshots")
	return len(snaps)
}

// TestDeviceLifecycle is issue 4's end-to-end story through a real server:
// A backs up, B joins by pairing code and restores A's snapshot, A removes
// B and backs up again, and B can read nothing new; then the account is
// recovered on fresh machines by the recovery key and by recovery
// contacts, and the recovery key is rotated.
func TestDeviceLifecycle(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", "--insecure-http")
	a, b := newUser(t, "laptop"), newUser(t, "phone")
	work := t.TempDir()
	src := filepath.Join(work, "src")
	writeTree(t, src, 1, 300<<10, 5<<10)
	var ia initFull
	a.runJSON(t, &ia, "init", "--store", srv.URL)
	a.run(t, "backup", src)

	added := pair(t, a, b, srv.URL)
	if added.AddedBy != ia.Device {
		t.Errorf("the new device was added by %q, want %s", added.AddedBy, ia.Device)
	}
	out := filepath.Join(work, "out-b")
	b.run(t, "restore", "latest", "--target", out)
	sameTree(t, filepath.Join(out, "src"), src)
	var list []deviceOut
	b.runJSON(t, &list, "device", "list")
	if len(list) != 2 {
		t.Fatalf("B lists %d devices, want 2: %+v", len(list), list)
	}

	// B's view before its removal: its saved chain and device keys.
	bChain, err := account.Verified(&home.Home{Dir: b.home}, ia.Account)
	if err != nil || bChain == nil {
		t.Fatalf("B's saved chain: %v", err)
	}
	a.run(t, "device", "remove", added.ID)
	writeTree(t, src, 2, 100<<10)
	var second backupOut
	a.runJSON(t, &second, "backup", src)
	if _, err := b.try(nil, "snapshots"); err == nil || !strings.Contains(err.Error(), "this device was removed") {
		t.Fatalf("the removed device still lists snapshots, or is not told it was removed: %v", err)
	}
	// Even given the stored objects, B's keys open nothing written after
	// its removal.
	st, err := local.Open(filepath.Join(srv.data, "accounts", ia.Account))
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.OpenChain(context.Background(), st, b.device(t), bChain.Chain)
	if err != nil {
		t.Fatalf("B's keys for the epoch it knew: %v", err)
	}
	good, bad, err := r.ReadableSnapshots(context.Background())
	r.Close()
	if err != nil || len(good) != 1 || len(bad) != 1 || !strings.Contains(bad[0].Error(), second.Snapshot[:16]) {
		t.Errorf("B reads %d snapshots and fails %d (%v), want 1 and 1, the new one: %v", len(good), len(bad), bad, err)
	}

	// A fresh machine recovers with the recovery key alone.
	c := newUser(t, "new-laptop")
	if _, err := c.try([]string{"COFFER_RECOVERY_KEY=" + mistype(ia.RecoveryKey)}, "recover", "--store", srv.URL, "--account", ia.Account); err == nil || !strings.Contains(err.Error(), "recovery key") {
		t.Errorf("a mistyped recovery key: %v", err)
	}
	if _, err := c.try([]string{"COFFER_RECOVERY_KEY=" + ia.RecoveryKey}, "recover", "--store", srv.URL, "--account", ia.Account); err != nil {
		t.Fatal(err)
	}
	out = filepath.Join(work, "out-c")
	c.run(t, "restore", "latest", "--target", out)
	sameTree(t, filepath.Join(out, "src"), src)

	testContacts(t, srv.URL, a, ia.Account, work, src)

	// Rotating the recovery key: the old one stops working, the new one works.
	var rot struct {
		RecoveryKey string `json:"recovery_key"`
	}
	a.runJSON(t, &rot, "recovery-key", "rotate")
	d := newUser(t, "another-laptop")
	if _, err := d.try([]string{"COFFER_RECOVERY_KEY=" + ia.RecoveryKey}, "recover", "--store", srv.URL, "--account", ia.Account); err == nil {
		t.Fatal("the rotated-out recovery key still recovers the account")
	}
	if _, err := d.try([]string{"COFFER_RECOVERY_KEY=" + rot.RecoveryKey}, "recover", "--store", srv.URL, "--account", ia.Account); err != nil {
		t.Fatal(err)
	}
	if n := snapshotCount(t, d); n != 2 {
		t.Errorf("after recovery with the new key: %d snapshots, want 2", n)
	}
	if n := snapshotCount(t, a); n != 2 {
		t.Errorf("A after everything: %d snapshots, want 2", n)
	}
}

// testContacts makes two other accounts the recovery contacts of account
// (2 of 2) and recovers it on a fresh machine from their codes.
func testContacts(t *testing.T, url string, owner *user, acct, work, src string) {
	var ids []string
	var helpers []*user
	// The friend is found by the name it registered, the sister by ID.
	friend := newUser(t, "friend")
	friend.run(t, "init", "--store", url, "--account-name", "friend@example.org")
	var sister initFull
	s := newUser(t, "sister")
	s.runJSON(t, &sister, "init", "--store", url)
	ids, helpers = []string{"friend@example.org", sister.Account}, []*user{friend, s}
	if _, err := owner.try(nil, "recovery-contact", "add", "nobody@example.org"); err == nil || !strings.Contains(err.Error(), "nobody@example.org") {
		t.Errorf("adding an unknown name as a contact: %v", err)
	}
	// Each contact reads its device's fingerprint to the owner; without
	// them the owner's device refuses to seal shares to keys the server
	// served.
	if _, err := owner.try(nil, append([]string{"recovery-contact", "add", "--threshold", "2"}, ids...)...); err == nil || !strings.Contains(err.Error(), "not confirmed") {
		t.Errorf("contacts added without confirming fingerprints: %v", err)
	}
	var confirm []string
	for _, u := range helpers {
		var list []deviceOut
		u.runJSON(t, &list, "device", "list")
		confirm = append(confirm, "--fingerprint", list[0].Fingerprint)
	}
	owner.run(t, append(append([]string{"recovery-contact", "add", "--threshold", "2"}, confirm...), ids...)...)
	var codes []string
	for _, u := range helpers {
		var help struct{ Code string }
		u.runJSON(t, &help, "recovery-contact", "help", acct)
		codes = append(codes, help.Code)
	}
	e := newUser(t, "after-the-fire")
	if _, err := e.try([]string{"COFFER_CONTACT_CODES=" + codes[0]}, "recover", "--contact", "--store", url); err == nil {
		t.Fatal("one contact's code alone recovered a 2-of-2 account")
	}
	if _, err := e.try([]string{"COFFER_CONTACT_CODES=" + strings.Join(codes, ",")}, "recover", "--contact", "--store", url); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(work, "out-e")
	e.run(t, "restore", "latest", "--target", out)
	sameTree(t, filepath.Join(out, "src"), src)
	if _, err := os.Stat(filepath.Join(e.home, "chains", acct)); err != nil {
		t.Errorf("the recovered device saved no chain: %v", err)
	}
}

// TestPairingRefusals: a code that is well formed but was never issued,
// and a code whose pairing expired, join nothing.
func TestPairingRefusals(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", "--insecure-http")
	a, b := newUser(t, "laptop"), newUser(t, "phone")
	a.run(t, "init", "--store", srv.URL)
	code, err := pairing.NewCode(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.try(nil, "join", "--store", srv.URL, "--code", code.String()); err == nil || !strings.Contains(err.Error(), "no such pairing") {
		t.Errorf("a code never issued: %v", err)
	}
	out, err := a.try(nil, "device", "add", "--json", "--timeout", "1s")
	if err == nil || !strings.Contains(err.Error(), "did not answer in time") {
		t.Fatalf("device add with nobody joining: %v", err)
	}
	var issued struct{ Code string }
	if jerr := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &issued); jerr != nil || issued.Code == "" {
		t.Fatalf("device add printed %q", out)
	}
	time.Sleep(1100 * time.Millisecond) // the pairing's expiry is whole seconds
	if _, err := b.try(nil, "join", "--store", srv.URL, "--code", issued.Code); err == nil || !strings.Contains(err.Error(), "no such pairing") {
		t.Errorf("an expired code: %v", err)
	}
	var list []deviceOut
	a.runJSON(t, &list, "device", "list")
	if len(list) != 1 {
		t.Errorf("%d devices after refused pairings, want 1", len(list))
	}
}

// TestAppendOnlyDevice: a device added with --append-only backs up, but
// the server lets it delete nothing and sign no device-chain entry.
func TestAppendOnlyDevice(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", "--insecure-http")
	a, b := newUser(t, "laptop"), newUser(t, "nas")
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, 4, 50<<10)
	var ia initFull
	a.runJSON(t, &ia, "init", "--store", srv.URL)
	a.run(t, "backup", src)
	pair(t, a, b, srv.URL, "--append-only")
	b.run(t, "backup", src)
	b.run(t, "backup", src)
	if n := snapshotCount(t, a); n != 3 {
		t.Errorf("A sees %d snapshots, want 3 (two by the append-only device)", n)
	}
	if _, err := b.try(nil, "forget", "--keep-last", "1", "--prune"); err == nil || !strings.Contains(err.Error(), "does not have the right") {
		t.Errorf("the append-only device forgot snapshots: %v", err)
	}
	if _, err := b.try(nil, "device", "remove", ia.Device); err == nil {
		t.Error("the append-only device removed a device")
	}
	if n := snapshotCount(t, a); n != 3 {
		t.Errorf("after the append-only device's attempts: %d snapshots, want 3", n)
	}
	appendOnlyRetention(t, a, b)
}

// appendOnlyRetention: the append-only device b cannot retag, a full
// device a cannot retag b's snapshots (it would vouch for them), and
// however a's retention groups, b's newer snapshots never make a forget
// a's own.
func appendOnlyRetention(t *testing.T, a, b *user) {
	t.Helper()
	var snaps []struct {
		ID     string `json:"id"`
		Author struct {
			Rights string `json:"rights"`
		} `json:"author"`
	}
	a.runJSON(t, &snaps, "snapshots")
	if len(snaps) != 3 || snaps[0].Author.Rights != "full" || snaps[2].Author.Rights != "append-only" {
		t.Fatalf("snapshots: %+v", snaps)
	}
	if _, err := b.try(nil, "tag", "--device", "nas", "latest", "--add", "x"); err == nil || !strings.Contains(err.Error(), "may not change tags") {
		t.Errorf("the append-only device retagged: %v", err)
	}
	if _, err := a.try(nil, "tag", snaps[2].ID, "--add", "x"); err == nil || !strings.Contains(err.Error(), "was written by append-only device") {
		t.Errorf("a full device retagged an append-only device's snapshot: %v", err)
	}
	for _, group := range []string{"", "host", "host,paths,tags"} {
		var res struct {
			Remove []string `json:"remove"`
		}
		a.runJSON(t, &res, "forget", "--keep-last", "1", "--group-by", group, "--dry-run")
		if len(res.Remove) != 1 || res.Remove[0] == snaps[0].ID {
			t.Errorf("--group-by %q would remove %v; the full device's %s must stay", group, res.Remove, snaps[0].ID)
		}
	}
}

// mistype changes the first character of a typable key to another valid
// one, a typo its checksum must catch.
func mistype(key string) string {
	c := byte('0')
	if key[0] == '0' {
		c = '1'
	}
	return string(c) + key[1:]
}

//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// TestInterruptedBackups stops a backup with SIGINT, and then another with
// SIGKILL, after each stored some packs. The interrupted one ends its
// session and says so in one line; after either the repository checks
// clean, and the next backup completes, reuses what was uploaded, and
// restores identically.
func TestInterruptedBackups(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	const files, size = 100, 2 << 20 // 200 MiB, about 13 packs
	genTree(t, data, files, size, 1)
	a := newAccount(t, dir, nil)

	p := a.stopAfter(2, syscall.SIGINT, "backup", data)
	if code := p.wait(); code != 1 || !regexp.MustCompile(`^coffer: error: [^\n]*interrupt[^\n]*\n$`).Match(p.stderr.Bytes()) {
		t.Errorf("interrupted backup: exit %d, stderr %q", code, &p.stderr)
	}
	if markers, _ := filepath.Glob(filepath.Join(a.store, "sessions", "*")); len(markers) > 0 {
		t.Errorf("the interrupted backup left its session marker: %v", markers)
	}
	a.stopped()

	p = a.stopAfter(6, syscall.SIGKILL, "backup", data)
	if code := p.wait(); code != -1 {
		t.Fatalf("backup exited with %d before it was killed", code)
	}
	stored := a.stopped()

	r := a.backup(data)
	const total = files * size
	t.Logf("the last backup added %d bytes of %d", r.Summary.BytesAdded, total)
	if r.Summary.BytesAdded > total*3/4 || r.Summary.BytesAdded+uint64(stored) > total*21/20 {
		t.Errorf("the last backup added %d bytes of %d although %d bytes of packs were stored already", r.Summary.BytesAdded, total, stored)
	}
	a.checkClean()
	a.restoreSame(r.Snapshot, data)
}

// stopAfter starts coffer and sends it sig once the store holds n packs.
func (a *tester) stopAfter(n int, sig syscall.Signal, args ...string) *proc {
	a.t.Helper()
	p := a.start(args...)
	if !p.until(func() bool { k, _ := a.packs(); return k >= n }) {
		a.t.Fatalf("coffer %v ended (exit %d) before %d packs were stored; stderr:\n%s", args, p.wait(), n, &p.stderr)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		a.t.Fatal(err)
	}
	return p
}

// stopped checks the store after a stopped backup: no snapshot, and check
// succeeds. It returns the bytes of packs stored.
func (a *tester) stopped() int64 {
	a.t.Helper()
	n, stored := a.packs()
	a.t.Logf("stopped with %d packs (%d bytes) stored", n, stored)
	if ids := a.snapshotIDs(); len(ids) != 0 {
		a.t.Fatalf("a stopped backup left snapshots %v", ids)
	}
	a.t.Logf("check after the stop:\n%s", a.ok("check"))
	return stored
}

// TestConcurrentBackups runs two backups of different trees, which share a
// file, into one store at once.
func TestConcurrentBackups(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	trees := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b")}
	for i, tree := range trees {
		genTree(t, tree, 16, 2<<20, uint64(10+i))
		if err := writeRandom(filepath.Join(tree, "shared"), 8<<20, 99); err != nil {
			t.Fatal(err)
		}
	}
	a := newAccount(t, dir, nil)
	procs := []*proc{a.start("backup", trees[0], "--json"), a.start("backup", trees[1], "--json")}
	both := func() bool { m, _ := filepath.Glob(filepath.Join(a.store, "sessions", "*")); return len(m) == 2 }
	if !procs[0].until(both) || !procs[1].running() {
		t.Fatal("the two backups did not run at the same time")
	}
	for i, p := range procs {
		if code := p.wait(); code != 0 {
			t.Fatalf("backup of %s: exit %d\n%s", trees[i], code, &p.stderr)
		}
		var r backupOut
		if err := json.Unmarshal(p.stdout.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		a.restoreSame(r.Snapshot, trees[i])
	}
	if ids := a.snapshotIDs(); len(ids) != 2 {
		t.Fatalf("snapshots %v, want 2", ids)
	}
	a.checkClean()
}

// TestPruneDuringBackup forgets and prunes a snapshot while a backup runs
// that reuses the very data the forgotten snapshot held. Every remaining
// snapshot must restore, before and after a later prune completes the plan.
func TestPruneDuringBackup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kept := filepath.Join(dir, "kept")
	genTree(t, kept, 8, 2<<20, 20)
	a := newAccount(t, dir, nil)
	a.backup(kept) // to be forgotten

	// The new backup holds copies of the files about to be forgotten,
	// read last (after the prune has planned their deletion).
	long := filepath.Join(dir, "long")
	genTree(t, filepath.Join(long, "new"), 48, 2<<20, 21)
	old := filepath.Join(long, "z-old")
	if err := os.Rename(filepath.Join(kept, "d00"), old); err != nil {
		t.Fatal(err)
	}
	genTree(t, kept, 1, 2<<20, 22) // kept/d00 anew
	s2 := a.backup(kept)

	before, _ := a.packs()
	p := a.start("backup", long, "--json")
	if !p.until(func() bool { n, _ := a.packs(); return n > before }) {
		t.Fatalf("backup ended (exit %d) before it stored a pack", p.wait())
	}
	// The backup is stopped (SIGSTOP) while the prune runs, so that the
	// prune certainly runs in the middle of it, however loaded the machine.
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Logf("forget while the backup runs:\n%s", a.ok("forget", "--keep-last", "1", "--prune"))
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("backup: exit %d\n%s", code, &p.stderr)
	}
	var s3 backupOut
	if err := json.Unmarshal(p.stdout.Bytes(), &s3); err != nil {
		t.Fatal(err)
	}
	if ids := a.snapshotIDs(); len(ids) != 2 {
		t.Fatalf("snapshots %v, want the 2 newest", ids)
	}
	// Before the plan completes, and after a later prune has completed it.
	for _, when := range []string{"before", "after"} {
		t.Logf("checking %s the plan completes", when)
		a.checkClean()
		a.restoreSame(s2.Snapshot, kept)
		a.restoreSame(s3.Snapshot, long)
		if when == "before" {
			t.Logf("prune after the backup:\n%s", a.ok("prune"))
		}
	}
}

// interruptedBackup backs up two trees (the first to be forgotten) and
// then starts a backup of a third, sending it sig once it has stored a
// pack.
func interruptedBackup(t *testing.T, sig syscall.Signal) (*tester, *proc) {
	dir := t.TempDir()
	data, big := filepath.Join(dir, "data"), filepath.Join(dir, "big")
	genTree(t, data, 4, 1<<20, 31)
	a := newAccount(t, dir, nil)
	a.backup(data) // to be forgotten
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	genTree(t, data, 4, 1<<20, 32)
	a.backup(data)
	genTree(t, big, 24, 2<<20, 33)
	before, _ := a.packs()
	return a, a.stopAfter(before+1, sig, "backup", big)
}

// TestKilledBackupSession: a backup killed with SIGKILL leaves its session
// marker, but the marker names this boot and a process that no longer
// runs, so a prune on this machine completes its plans at once.
func TestKilledBackupSession(t *testing.T) {
	t.Parallel()
	a, p := interruptedBackup(t, syscall.SIGKILL)
	p.wait()
	var res struct {
		Pending    []string
		WaitingFor []struct{ ID string } `json:"waiting_for"`
	}
	a.okJSON(&res, "forget", "--keep-last", "1", "--prune")
	if len(res.Pending) != 0 || len(res.WaitingFor) != 0 {
		t.Fatalf("prune waits for a killed backup: %+v", res)
	}
	a.checkClean()
}

// TestStoppedBackupSession: a backup that is stopped (SIGSTOP), not gone,
// still holds prune's plans; prune says which session it waits for, and
// --ignore-session releases it, completing the plans at once.
func TestStoppedBackupSession(t *testing.T) {
	t.Parallel()
	a, p := interruptedBackup(t, syscall.SIGSTOP)
	defer p.wait()
	defer p.cmd.Process.Kill()                    //nolint:errcheck // ends the stopped backup
	a.ok("forget", "--keep-last", "1", "--prune") // plans, waiting for the stopped backup
	var res struct {
		Pending    []string
		WaitingFor []struct{ ID string } `json:"waiting_for"`
	}
	a.okJSON(&res, "prune")
	if len(res.Pending) == 0 || len(res.WaitingFor) != 1 {
		t.Fatalf("prune with a stopped backup's marker: %+v", res)
	}
	id := res.WaitingFor[0].ID
	if out := a.ok("prune"); !strings.Contains(out, "waiting for backup session "+id) || !strings.Contains(out, "--ignore-session "+id[:8]) {
		t.Errorf("prune does not say what it waits for:\n%s", out)
	}
	var pr struct{ Pending []string }
	a.okJSON(&pr, "prune", "--ignore-session", id[:8])
	if len(pr.Pending) != 0 {
		t.Errorf("plans still pending after --ignore-session: %v", pr.Pending)
	}
}

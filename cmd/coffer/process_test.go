//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The helpers below run the coffer program, built without the race
// detector, as separate processes on real trees, for the tests that stop it
// mid-backup, race backups against each other and against a prune, run it
// as another user or on a terminal.

const testPassphrase = "process-test-passphrase"

// tester is a home with fast device keys and an initialised store.
type tester struct {
	t           *testing.T
	bin         string
	home, store string
	cred        *syscall.Credential // run as this user, if set
}

// newAccount creates the home and store in dir, running init as cred.
func newAccount(t *testing.T, dir string, cred *syscall.Credential) *tester {
	t.Helper()
	bin, err := cofferBinary()
	if err != nil {
		t.Fatal(err)
	}
	a := &tester{t: t, bin: bin, home: filepath.Join(dir, "home"), store: filepath.Join(dir, "store"), cred: cred}
	if err := makeFastHome(a.home, testPassphrase); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		chownTree(t, dir, cred)
	}
	a.ok("init", "--store", a.store)
	return a
}

// command returns coffer with args, on this account's home and store.
func (a *tester) command(args ...string) *exec.Cmd {
	cmd := exec.Command(a.bin, append(args, "--store", a.store)...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COFFER_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "COFFER_HOME="+a.home, "COFFER_PASSPHRASE="+testPassphrase)
	if a.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: a.cred}
	}
	return cmd
}

// run runs coffer to the end and returns its output and exit code.
func (a *tester) run(args ...string) (stdout, stderr string, code int) {
	a.t.Helper()
	cmd := a.command(args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		a.t.Fatalf("coffer %s: %v", strings.Join(args, " "), err)
	}
	return o.String(), e.String(), code
}

// ok runs coffer and fails the test unless it exits with 0.
func (a *tester) ok(args ...string) string {
	a.t.Helper()
	out, errOut, code := a.run(args...)
	if code != 0 {
		a.t.Fatalf("coffer %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// okJSON runs coffer with --json and decodes its output into v.
func (a *tester) okJSON(v any, args ...string) {
	a.t.Helper()
	out := a.ok(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		a.t.Fatalf("coffer %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// backupOut is the --json output of backup, as documented for users.
type backupOut struct {
	Snapshot string `json:"snapshot"`
	Parent   string `json:"parent"`
	Summary  struct {
		FilesNew   uint64 `json:"files_new"`
		BytesRead  uint64 `json:"bytes_read"`
		BytesAdded uint64 `json:"bytes_added"`
		TotalBytes uint64 `json:"total_bytes"`
	} `json:"summary"`
	Warnings []string `json:"warnings"`
}

// backup backs paths up and returns the result.
func (a *tester) backup(paths ...string) backupOut {
	a.t.Helper()
	var r backupOut
	a.okJSON(&r, append([]string{"backup"}, paths...)...)
	return r
}

// checkClean runs check --read-data and requires it to find no problem.
func (a *tester) checkClean() {
	a.t.Helper()
	var rep struct {
		ReadPacks int      `json:"read_packs"`
		Errors    []string `json:"errors"`
		Notes     []string `json:"notes"`
	}
	a.okJSON(&rep, "check", "--read-data")
	if len(rep.Errors) > 0 || rep.ReadPacks == 0 {
		a.t.Fatalf("check --read-data: read %d packs, errors %q", rep.ReadPacks, rep.Errors)
	}
	for _, n := range rep.Notes {
		a.t.Logf("check note: %s", n)
	}
}

// restoreSame restores snap and requires src to come back identical; src
// must have been backed up as itself.
func (a *tester) restoreSame(snap, src string) {
	a.t.Helper()
	target := filepath.Join(a.t.TempDir(), "restore")
	a.ok("restore", snap, "--target", target)
	if err := compareTrees(src, filepath.Join(target, filepath.Base(src))); err != nil {
		a.t.Fatalf("restore of %s: %v", snap, err)
	}
}

// packs returns how many complete packs the store holds, and their size.
func (a *tester) packs() (n int, size int64) {
	a.t.Helper()
	names, err := filepath.Glob(filepath.Join(a.store, "packs", "*", "*"))
	if err != nil {
		a.t.Fatal(err)
	}
	for _, p := range names {
		if fi, err := os.Stat(p); err == nil {
			n, size = n+1, size+fi.Size()
		}
	}
	return n, size
}

// snapshotIDs lists the store's snapshots, oldest first.
func (a *tester) snapshotIDs() []string {
	a.t.Helper()
	var rows []struct {
		ID string `json:"id"`
	}
	a.okJSON(&rows, "snapshots")
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

// genTree writes n incompressible files of size bytes each, spread over
// eight directories under dir, their content fixed by seed.
func genTree(t *testing.T, dir string, n int, size int64, seed uint64) {
	t.Helper()
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("d%02d", i%8))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := writeRandom(filepath.Join(sub, fmt.Sprintf("f%04d", i)), size, seed<<20+uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func chownTree(t *testing.T, dir string, cred *syscall.Credential) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(cred.Uid), int(cred.Gid))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// proc is a coffer process running in the background.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	err            error
}

// start starts coffer with args; the test kills it if it is still running
// at the end.
func (a *tester) start(args ...string) *proc {
	a.t.Helper()
	p := &proc{cmd: a.command(args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	a.t.Cleanup(func() {
		_ = p.cmd.Process.Kill() // fails once it has exited
		<-p.done
	})
	return p
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// until polls cond while p runs, for at most a minute, and reports whether
// it held while p was still running.
func (p *proc) until(cond func() bool) bool {
	for deadline := time.Now().Add(time.Minute); p.running() && time.Now().Before(deadline); {
		if cond() {
			return p.running()
		}
		time.Sleep(2 * time.Millisecond)
	}
	return false
}

// wait waits for p to end and returns its exit code, or -1 if a signal
// ended it.
func (p *proc) wait() int {
	<-p.done
	return p.cmd.ProcessState.ExitCode()
}

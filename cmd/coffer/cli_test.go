//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestUnreadableFiles backs up a tree with a file and a directory the
// backup may not read: it completes, exits with 3, names both, and the
// snapshot holds everything else. As root, which reads everything, coffer
// runs as the user nobody.
func TestUnreadableFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
		// nobody must reach the test's directory.
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	data := filepath.Join(dir, "data")
	for name, content := range map[string]string{"ok.txt": "readable\n", "secret.txt": "unreadable\n", "locked/inner.txt": "behind a locked door\n"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(data, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin, err := cofferBinary()
	if err != nil {
		t.Fatal(err)
	}
	probe := exec.Command(bin, "version")
	probe.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := probe.Run(); err != nil {
		t.Skipf("cannot run coffer as another user: %v", err)
	}
	a := newAccount(t, dir, cred)
	for _, p := range []string{filepath.Join(data, "secret.txt"), filepath.Join(data, "locked")} {
		if err := os.Chmod(p, 0); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(data, "locked"), 0o755) })

	out, errOut, code := a.run("backup", data)
	if code != 3 {
		t.Fatalf("backup exited with %d, want 3\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "saved") {
		t.Errorf("stdout does not report the snapshot:\n%s", out)
	}
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	want := []string{"coffer: warning: .*/data/secret.txt: permission denied", "coffer: warning: .*/data/locked: .*permission denied", "coffer: error: backup completed, but 2 items could not be read \\(listed above\\)"}
	if len(lines) != len(want) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(want), errOut)
	}
	for _, w := range want {
		if !matchAny(w, lines) {
			t.Errorf("no stderr line matches %q:\n%s", w, errOut)
		}
	}

	// The same with --json: the warnings are in the result too.
	var r backupOut
	stdout, _, code := a.run("backup", data, "--json", "--force")
	if code != 3 {
		t.Fatalf("backup --json exited with %d, want 3", code)
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("backup --json: %v\n%s", err, stdout)
	}
	if len(r.Warnings) != 2 || r.Snapshot == "" {
		t.Errorf("backup --json: snapshot %q, warnings %q; want 2", r.Snapshot, r.Warnings)
	}

	ls := a.ok("ls", "latest")
	if !strings.Contains(ls, "/data/ok.txt\n") {
		t.Errorf("ls latest lacks the readable file:\n%s", ls)
	}
	if strings.Contains(ls, "inner.txt") {
		t.Errorf("ls latest lists a file behind an unreadable directory:\n%s", ls)
	}
	target := filepath.Join(dir, "restore")
	a.ok("restore", "latest", "--target", target, "--include", "/data/ok.txt")
	if b, err := os.ReadFile(filepath.Join(target, "data", "ok.txt")); err != nil || string(b) != "readable\n" {
		t.Errorf("restored ok.txt: %q, %v", b, err)
	}
}

func matchAny(pattern string, lines []string) bool {
	for _, l := range lines {
		if ok, _ := regexp.MatchString("^"+pattern+"$", l); ok {
			return true
		}
	}
	return false
}

// TestAmbiguousPrefix backs up until two snapshot IDs share their first
// hexadecimal digit, which then names no single snapshot.
func TestAmbiguousPrefix(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	a := newAccount(t, dir, nil)
	byDigit := make(map[byte]string)
	var shared, first string
	for i := 0; shared == ""; i++ { // 17 snapshots at most, by pigeonhole
		if err := os.WriteFile(filepath.Join(data, "f"), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		id := a.backup(data).Snapshot
		if other, ok := byDigit[id[0]]; ok {
			shared, first = id[:1], other
		}
		byDigit[id[0]] = id
	}
	_, errOut, code := a.run("ls", shared)
	wantErr := fmt.Sprintf("coffer: error: 2 snapshot IDs start with %q; give more digits: ambiguous snapshot ID prefix\n", shared)
	if code != 1 || errOut != wantErr {
		t.Errorf("ls %s: exit %d, stderr %q; want 1, %q", shared, code, errOut, wantErr)
	}
	// Enough digits name one again.
	a.ok("ls", first[:12])
}

// TestProgressOnlyOnTerminal: progress is drawn on stderr when it is a
// terminal, and not with --quiet, nor when stderr is not a terminal.
func TestProgressOnlyOnTerminal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	genTree(t, data, 64, 2<<20, 30)
	a := newAccount(t, dir, nil)

	screen, took := a.onTerminal(t, "backup", data)
	t.Logf("backup on a terminal took %v and drew %d bytes", took, len(screen))
	if took < 500*time.Millisecond {
		t.Logf("the backup took only %v; progress not required", took)
	} else if !strings.Contains(screen, "\r\x1b[K[") || !strings.Contains(screen, " items, ") {
		t.Errorf("a %v backup drew no progress on the terminal: %q", took, screen)
	}
	if !strings.HasSuffix(screen, "\r\x1b[K") {
		t.Errorf("the progress line is not erased at the end: %q", screen)
	}

	screen, took = a.onTerminal(t, "backup", data, "--force", "--quiet")
	if screen != "" {
		t.Errorf("backup --quiet (%v) drew on the terminal: %q", took, screen)
	}
	start := time.Now()
	if _, errOut, code := a.run("backup", data, "--force"); code != 0 || errOut != "" {
		t.Errorf("backup (%v) with stderr on a pipe: exit %d, stderr %q", time.Since(start), code, errOut)
	}
}

// onTerminal runs coffer with stderr on a pseudo-terminal, and returns
// what it wrote there and how long it ran.
func (a *tester) onTerminal(t *testing.T, args ...string) (string, time.Duration) {
	ptmx, tty, err := openPTY()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	cmd := a.command(args...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, tty
	start := time.Now()
	err = cmd.Start()
	tty.Close()
	if err != nil {
		t.Fatal(err)
	}
	var screen bytes.Buffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&screen, ptmx); close(copied) }() // EIO once the program has exited
	if err := cmd.Wait(); err != nil {
		t.Fatalf("coffer %s on a terminal: %v", strings.Join(args, " "), err)
	}
	took := time.Since(start)
	<-copied
	if !strings.Contains(stdout.String(), "saved") {
		t.Errorf("coffer %s: stdout %q", strings.Join(args, " "), stdout.String())
	}
	return screen.String(), took
}

// openPTY opens a pseudo-terminal pair.
func openPTY() (ptmx, tty *os.File, err error) {
	ptmx, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(ptmx.Fd())
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err == nil {
		err = unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0)
	}
	if err == nil {
		tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	}
	if err != nil {
		ptmx.Close()
		return nil, nil, err
	}
	return ptmx, tty, nil
}

// TestPassphraseSources: the passphrase comes from $COFFER_PASSPHRASE, else
// from the file $COFFER_PASSPHRASE_FILE names (less one line break), else
// from the terminal; without any, as from cron, the command fails at once.
func TestPassphraseSources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := newAccount(t, dir, nil)
	file := filepath.Join(dir, "pass")
	run := func(env ...string) (string, int) {
		cmd := a.command("snapshots")
		cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool { return strings.HasPrefix(kv, "COFFER_PASSPHRASE=") })
		cmd.Env = append(cmd.Env, env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no controlling terminal
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if err != nil && cmd.ProcessState == nil {
			t.Fatal(err)
		}
		return stderr.String(), cmd.ProcessState.ExitCode()
	}
	for _, tc := range []struct {
		name, content string
		env           []string
		code          int
		stderr        string
	}{
		{"file", testPassphrase + "\n", []string{"COFFER_PASSPHRASE_FILE=" + file}, 0, ""},
		{"file with CRLF", testPassphrase + "\r\n", []string{"COFFER_PASSPHRASE_FILE=" + file}, 0, ""},
		{"wrong file", "nope\n", []string{"COFFER_PASSPHRASE_FILE=" + file}, 1, "^coffer: error: .*wrong passphrase.*\ncoffer: hint: check COFFER_PASSPHRASE_FILE .*\n$"},
		{"missing file", "", []string{"COFFER_PASSPHRASE_FILE=" + file + ".missing"}, 1, "^coffer: error: passphrase file \\(\\$COFFER_PASSPHRASE_FILE\\): .*no such file or directory\n$"},
		{"variable first", "nope\n", []string{"COFFER_PASSPHRASE_FILE=" + file, "COFFER_PASSPHRASE=" + testPassphrase}, 0, ""},
		{"none", "", nil, 1, "^coffer: error: no passphrase available: set COFFER_PASSPHRASE, COFFER_PASSPHRASE_FILE or COFFER_PASSPHRASE_COMMAND, or run from a terminal \\(open /dev/tty: .*\\)\n$"},
	} {
		if err := os.WriteFile(file, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		stderr, code := run(tc.env...)
		if code != tc.code || !regexp.MustCompile(tc.stderr).MatchString(stderr) || tc.stderr == "" && stderr != "" {
			t.Errorf("%s: exit %d, stderr %q; want %d, %q", tc.name, code, stderr, tc.code, tc.stderr)
		}
		if strings.Contains(stderr, testPassphrase) {
			t.Errorf("%s: stderr shows the passphrase", tc.name)
		}
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/coffer-backup/coffer/internal/fusefs/fusetest"
)

// TestMountUnmountsOnSignal runs coffer mount as a user would, reads a
// backed-up file through it, and stops it with SIGTERM, and again with
// SIGINT while a process has its working directory inside: each time
// coffer exits with 0 and leaves no mount behind.
func TestMountUnmountsOnSignal(t *testing.T) {
	fusetest.Need(t)
	dir := t.TempDir()
	a := newAccount(t, dir, nil)
	src := filepath.Join(dir, "data")
	genTree(t, src, 6, 300<<10, 1)
	a.backup(src)
	want, err := os.ReadFile(filepath.Join(src, "d03", "f0003"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		mnt := filepath.Join(t.TempDir(), "mnt")
		if err := os.Mkdir(mnt, 0o755); err != nil {
			t.Fatal(err)
		}
		p := a.start("mount", mnt)
		file := filepath.Join(mnt, "snapshots", "latest", "data", "d03", "f0003")
		if !p.until(func() bool { _, err := os.Stat(file); return err == nil }) {
			t.Fatalf("the mount never showed %s; exit %d, stderr %s", file, p.wait(), p.stderr.String())
		}
		if got, err := os.ReadFile(file); err != nil || string(got) != string(want) {
			t.Fatalf("reading through the mount: %d bytes, %v", len(got), err)
		}
		if sig == syscall.SIGINT {
			busy := exec.Command("sleep", "60")
			busy.Dir = filepath.Dir(file)
			if err := busy.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { busy.Process.Kill(); busy.Wait() }()
		}
		if err := p.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if code := p.wait(); code != 0 {
			t.Errorf("after %v: exit %d, stderr %s", sig, code, p.stderr.String())
		}
		if fusetest.Mounted(t, mnt) {
			t.Errorf("after %v: %s is still mounted", sig, mnt)
		}
	}
}

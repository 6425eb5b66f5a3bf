//go:build linux

// Package fusetest holds the helpers of tests that mount a file system
// through FUSE.
package fusetest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Need skips the test only where the kernel offers no FUSE. Where it does,
// fusermount3 must be there too under CI (make test installs fuse3); a
// developer's machine without it skips.
func Need(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no FUSE on this machine: %v", err)
	}
	if _, err := exec.LookPath("fusermount3"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("/dev/fuse is present but fusermount3 is not: %v (make test installs fuse3)", err)
		}
		t.Skipf("fusermount3 missing (apt-get install fuse3): %v", err)
	}
}

// Mounted reports whether dir is a mount point.
func Mounted(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// Package pycheck runs, from Go tests, the independent Python readers of
// the format's test vectors (docs/format.md §6.5, §6.7, §7.5), so that
// they run wherever the tests do and cannot silently rot. The readers use
// only Python 3, its `cryptography` package and the `zstd` command-line
// tool; `make test` installs them (the Makefile's pycheck target).
package pycheck

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Run runs python3 with the script and args in dir and fails the test,
// with the script's output, unless it exits with status 0. Where
// python3, its cryptography package or zstd is missing it skips the
// test, or fails it under CI (CI=true), where make test installs them.
func Run(t *testing.T, dir, script string, args ...string) {
	t.Helper()
	if err := available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (make test installs python3, python3-cryptography and zstd)", err)
		}
		t.Skipf("%v (apt-get install python3 python3-cryptography zstd)", err)
	}
	cmd := exec.Command("python3", append([]string{script}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 %s: %v\n%s", script, err, out)
	}
	t.Logf("python3 %s:\n%s", script, out)
}

// available reports what the Python readers need and is missing.
func available() error {
	if _, err := exec.LookPath("zstd"); err != nil {
		return err
	}
	if out, err := exec.Command("python3", "-c", "import cryptography").CombinedOutput(); err != nil {
		return fmt.Errorf("no python3 with the cryptography package: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

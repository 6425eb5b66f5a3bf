//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/store/s3/s3test"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary act as the coffer command: testscript
// copies it into $PATH as "coffer", and when it runs under that name it
// runs the real program through run, exiting with its code.
func TestMain(m *testing.M) {
	testscript.Main(cleanupM{m}, map[string]func(){
		"coffer": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// cleanupM removes the separately built binary after the tests.
type cleanupM struct{ m *testing.M }

func (c cleanupM) Run() int {
	code := c.m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	return code
}

// TestScripts runs the scripts in testdata/script, one per user-visible
// topic, against the real program.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		WorkdirRoot:         t.TempDir(), // removed by the testing package, even with parallel scripts
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Cmds:                scriptCmds(),
		Setup: func(e *testscript.Env) error {
			// A program built with the race detector sleeps a second
			// before exiting unless told not to.
			e.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
			return nil
		},
	})
}

// TestS3Scripts runs the scripts in testdata/s3 against stores in a real
// S3 service, versitygw: each script gets a new bucket $BUCKET on the
// service at $S3_ENDPOINT (its buckets are directories in $S3_DIR), the
// AWS_* environment of its credentials, and $S3_NOINM_ENDPOINT, the same
// service behind a proxy that drops If-None-Match.
func TestS3Scripts(t *testing.T) {
	srv := s3test.Start(t)
	noINM := srv.IgnoringIfNoneMatch(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/s3",
		WorkdirRoot:         t.TempDir(),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Cmds:                scriptCmds(),
		Setup: func(e *testscript.Env) error {
			bucket, err := srv.NewBucket(context.Background())
			if err != nil {
				return err
			}
			e.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
			for _, kv := range append(s3test.Env(), "BUCKET="+bucket, "S3_ENDPOINT="+srv.Endpoint, "S3_DIR="+srv.Dir, "S3_NOINM_ENDPOINT="+noINM) {
				k, v, _ := strings.Cut(kv, "=")
				e.Setenv(k, v)
			}
			return nil
		},
	})
}

// makeFastHome creates device keys in the home dir under passphrase, as
// init would but with the cheapest Argon2id parameters, so that the many
// commands of a test do not each spend the default key derivation (slowest
// under the race detector). Only the init script uses the default.
func makeFastHome(dir, passphrase string) error {
	h := home.Home{Dir: dir}
	if err := os.MkdirAll(h.Dir, 0o700); err != nil {
		return err
	}
	d, err := keys.NewDevice("test")
	if err != nil {
		return err
	}
	defer d.Zero()
	return keys.Save(h.KeystorePath(), d, []byte(passphrase), keys.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1})
}

// builtDir holds the coffer binary built for the process tests.
var builtDir string

// cofferBinary returns the coffer program built without the race detector,
// for tests that run it as a separate process on a lot of data; it is
// built once, readable and executable by every user.
var cofferBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "coffer-bin")
	if err != nil {
		return "", err
	}
	builtDir = dir
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "coffer")
	gotool, err := exec.LookPath("go")
	if err != nil {
		gotool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	if out, err := exec.Command(gotool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/coffer-backup/coffer/internal/tlog"
	"github.com/coffer-backup/coffer/internal/witness"
)

// The witness command is tested in process, through witnessFlags and
// runWitness as "coffer witness serve" calls them, serving real HTTP on a
// real port; stopping it is cancelling the context that SIGINT and
// SIGTERM cancel in run.

const testLogOrigin = "log.coffer.example/v1"

// witnessEnv parses args with the witness's flags into an env whose
// stderr is w.
func witnessEnv(t *testing.T, w io.Writer, args []string) (*env, []string) {
	t.Helper()
	e := &env{stdout: io.Discard, stderr: w}
	fs := flag.NewFlagSet("coffer witness", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	witnessFlags(fs, &e.o)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		t.Fatal(err)
	}
	return e, pos
}

var listening = regexp.MustCompile(`^coffer: witness (\S+) listening on (http://127\.0\.0\.1:\d+)\n$`)

// startWitness runs coffer witness with args and returns the verifier key
// and URL it announces, and a stop function that shuts it down and
// returns its error.
func startWitness(t *testing.T, args ...string) (vkey, url string, stop func() error) {
	t.Helper()
	pr, pw := io.Pipe()
	e, pos := witnessEnv(t, pw, args)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := runWitness(ctx, e, pos)
		pw.Close()
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	m := listening.FindStringSubmatch(line)
	if m == nil {
		cancel()
		t.Fatalf("first line %q (%v), exit: %v", line, err, <-done)
	}
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return m[1], m[2], stop
}

// testLogKeys makes a log key pair.
func testLogKeys(t *testing.T) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := tlog.GenerateLogKey(testLogOrigin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tlog.NewLogSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

// signedCheckpoint returns the signed checkpoint of a log of n leaves.
func signedCheckpoint(t *testing.T, s note.Signer, n int) []byte {
	t.Helper()
	var hashes []tlog.Hash
	r := xtlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	for i := range n {
		hs, err := xtlog.StoredHashes(int64(i), fmt.Appendf(nil, "leaf %d", i), r)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, hs...)
	}
	root, err := xtlog.TreeHash(int64(n), r)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := tlog.Sign(tlog.Checkpoint{Origin: testLogOrigin, Size: uint64(n), Root: root}.Body(), s)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestWitnessServe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "witness")
	logS, logVkey := testLogKeys(t)
	logV, err := tlog.NewLogVerifier(logVkey)
	if err != nil {
		t.Fatal(err)
	}
	vkey, url, stop := startWitness(t, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--log", logVkey, "--name", "witness.example/w1")

	cosignV, err := tlog.NewCosignatureVerifier(vkey)
	if err != nil || cosignV.Name() != "witness.example/w1" {
		t.Fatalf("announced key %q: %v", vkey, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "witness.vkey")); err != nil || string(b) != vkey+"\n" {
		t.Fatalf("witness.vkey holds %q, %v", b, err)
	}
	if info, err := os.Stat(filepath.Join(dir, "witness.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("witness.key: %v, %v", info, err)
	}

	signed := signedCheckpoint(t, logS, 3)
	lines, _, err := witness.Submit(context.Background(), http.DefaultClient, url, 0, nil, signed)
	if err != nil {
		t.Fatal(err)
	}
	policy := tlog.Policy{Log: logV, Witnesses: []note.Verifier{cosignV}, Threshold: 1}
	if c, names, err := policy.Verify(append(bytes.Clone(signed), lines...)); err != nil || c.Size != 3 || !slices.Equal(names, []string{"witness.example/w1"}) {
		t.Fatalf("cosigned checkpoint: %v, %v", names, err)
	}
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	again, url, _ := startWitness(t, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--log", logVkey)
	if again != vkey {
		t.Fatalf("restarted with key %s, not %s", again, vkey)
	}
	if _, size, err := witness.Submit(context.Background(), http.DefaultClient, url, 0, nil, signed); !errors.Is(err, witness.ErrOldSize) || size != 3 {
		t.Fatalf("restarted witness forgot its state: %d, %v", size, err)
	}
}

func TestWitnessServeRefuses(t *testing.T) {
	_, logVkey := testLogKeys(t)
	_, otherVkey := testLogKeys(t)
	// made gives a data directory whose key was made with name.
	made := func(t *testing.T, name string) string {
		dir := t.TempDir()
		if _, _, err := newWitnessKey(filepath.Join(dir, witnessKeyFile), filepath.Join(dir, witnessVkeyFile), name); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	tests := []struct {
		name  string
		dir   func(t *testing.T) string
		args  []string
		usage bool
		msg   string
	}{
		{"no serve", nil, []string{"--log", logVkey}, true, "usage"},
		{"no data", nil, []string{"serve", "--data", "", "--log", logVkey}, true, "--data"},
		{"no log", nil, []string{"serve"}, true, "--log"},
		{"bad log key", nil, []string{"serve", "--log", "nonsense"}, true, "--log"},
		{"two keys for a log", nil, []string{"serve", "--log", logVkey, "--log", otherVkey}, true, "two keys"},
		{"another name", func(t *testing.T) string { return made(t, "w.example/a") }, []string{"serve", "--log", logVkey, "--name", "w.example/b"}, false, "named w.example/a"},
		{"key readable by others", func(t *testing.T) string {
			dir := made(t, "w.example/a")
			if err := os.Chmod(filepath.Join(dir, witnessKeyFile), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}, []string{"serve", "--log", logVkey}, false, "accessible to other users"},
		{"verifier key of another key", func(t *testing.T) string {
			dir, other := made(t, "w.example/a"), made(t, "w.example/a")
			b, err := os.ReadFile(filepath.Join(other, witnessVkeyFile))
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, witnessVkeyFile), b, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
			return dir
		}, []string{"serve", "--log", logVkey}, false, "is not the verifier key"},
		{"bad name", nil, []string{"serve", "--log", logVkey, "--name", "a+b"}, false, "another --name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.dir != nil {
				dir = tc.dir(t)
			}
			var stderr bytes.Buffer
			e, pos := witnessEnv(t, &stderr, append([]string{"--data", dir, "--listen", "127.0.0.1:0"}, tc.args...))
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a witness that got through would stop at once
			err := runWitness(ctx, e, pos)
			var ue usageError
			if err == nil || errors.As(err, &ue) != tc.usage || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v (usage error: %v), want %q", err, errors.As(err, &ue), tc.msg)
			}
			if stderr.Len() != 0 {
				t.Fatalf("printed %q", stderr.String())
			}
		})
	}
}

// TestWitnessDefaultName: a key made without --name is named after the
// host, and a restart without --name keeps it.
func TestWitnessDefaultName(t *testing.T) {
	dir := t.TempDir()
	_, vkey, err := witnessKey(dir, "")
	if err != nil || !strings.HasPrefix(vkey, "coffer-witness-") {
		t.Fatalf("made %q: %v", vkey, err)
	}
	if _, again, err := witnessKey(dir, ""); err != nil || again != vkey {
		t.Fatalf("loaded %q, %v; want %q", again, err, vkey)
	}
}

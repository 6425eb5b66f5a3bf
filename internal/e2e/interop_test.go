package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/tlog"
	"github.com/coffer-backup/coffer/internal/witness"
)

// omniwitnessName is the cosigner key name the independent witness is
// given; clients see it in coffer verify.
const omniwitnessName = "witness.example/omniwitness"

// omniwitnessPath finds the omniwitness binary of
// github.com/transparency-dev/witness, an independent C2SP tlog-witness
// that `make test` installs at a pinned version into $(go env GOPATH)/bin
// (preferred to one on PATH). Its absence fails the test: the
// interoperability check must not vanish silently.
func omniwitnessPath(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env GOPATH: %v", err)
	}
	for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
		p := filepath.Join(dir, "bin", "omniwitness")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("omniwitness"); err == nil {
		return p
	}
	t.Fatal("the independent witness omniwitness (github.com/transparency-dev/witness/cmd/omniwitness) is neither in $(go env GOPATH)/bin nor on PATH: run `make test`, which installs the pinned version (or `make omniwitness` alone)")
	return ""
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, for a program that cannot be asked to pick its own and say which.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startOmniwitness runs omniwitness as a witness of the log whose verifier
// key is logKey, signing with a fresh Ed25519 cosigning key, and waits
// until it accepts connections. Nothing but the loopback listener is
// configured: it polls no log, distributes nowhere and serves no metrics.
func startOmniwitness(t *testing.T, logKey string) witnessProc {
	t.Helper()
	bin := omniwitnessPath(t)
	dir := t.TempDir()
	skey, vkey, err := tlog.GenerateCosignerKey(omniwitnessName)
	if err != nil {
		t.Fatal(err)
	}
	origin, _, _ := strings.Cut(logKey, "+")
	logs := fmt.Sprintf("Logs:\n  - Origin: %q\n    PublicKey: %q\n    URL: \"http://127.0.0.1:1/unused\"\n", origin, logKey)
	keyPath, logsPath := filepath.Join(dir, "witness.key"), filepath.Join(dir, "logs.yaml")
	if err := os.WriteFile(keyPath, []byte(skey), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logsPath, []byte(logs), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--listen", addr, "--metrics_listen=", "--private_key_path", keyPath,
		"--additional_logs", logsPath, "--db_file", filepath.Join(dir, "witness.db"), "--logtostderr")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("omniwitness's output:\n%s", stderr.String())
		}
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-done:
			t.Fatalf("omniwitness exited: %s", stderr.String())
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return witnessProc{vkey: vkey, url: "http://" + addr}
		}
	}
	t.Fatalf("omniwitness did not listen on %s", addr)
	return witnessProc{}
}

// TestInteropWitness has the log's checkpoints cosigned by an independent
// implementation of C2SP tlog-witness and tlog-cosignature
// (transparency-dev's omniwitness) beside Coffer's own witness: clients
// requiring both cosignatures accept the honest log, also after a server
// restart (the log learns each witness's size from its 409), and refuse a
// fork of it, which both witnesses refuse alike.
func TestInteropWitness(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data, "127.0.0.1:0", "--insecure-http")
	srv.kill() // it made its log key; the witnesses need it
	b, err := os.ReadFile(filepath.Join(data, "log.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	logKey := strings.TrimSpace(string(b))
	witnesses := []witnessProc{startOmniwitness(t, logKey), startWitness(t, logKey)}
	w := &witnessed{}
	var names []string
	for _, wp := range witnesses {
		w.flags = append(w.flags, "--witness", wp.vkey)
		w.serves = append(w.serves, "--witness", wp.vkey+"="+wp.url)
		name, _, _ := strings.Cut(wp.vkey, "+")
		names = append(names, name)
	}
	w.srv = w.start(t, data, srv.listen)

	alice := newUser(t, "alice")
	w.init(t, alice)
	wantCosigned(t, alice, names)

	fork := t.TempDir()
	w.restart(t, func(data string) { copyDir(t, data, fork) })
	bob := newUser(t, "bob")
	w.init(t, bob) // from a restarted server, which starts from old size 0
	wantCosigned(t, bob, names)
	wantCosigned(t, alice, names)

	// The operator runs the copy on another address and grows it
	// differently: the witnesses refuse to cosign it, and so a client
	// requiring them refuses the fork.
	forked := w.start(t, fork, "127.0.0.1:0")
	wantFail(t, newUser(t, "carol"), `valid cosignatures from 0 of the 2 witnesses required`, append([]string{"init", "--store", forked.URL}, w.flags...)...)
	wantRefused(t, witnesses, forked)
}

// wantCosigned requires coffer verify to show the user's whole chain
// logged under a checkpoint cosigned by the named witnesses.
func wantCosigned(t *testing.T, u *user, names []string) {
	t.Helper()
	var v verifyOut
	u.runJSON(t, &v, "verify")
	got := slices.Sorted(slices.Values(v.Log.Witnesses))
	if !slices.Equal(got, slices.Sorted(slices.Values(names))) || v.Log.Logged != int(v.Entries) || v.Log.Size < v.Entries {
		t.Errorf("verify: %+v, want every chain entry logged under a checkpoint cosigned by %v", v, names)
	}
}

// wantRefused submits the forked log's checkpoint to each witness
// directly, from the size the witness holds (which it says in its 409),
// and requires a refusal. The fork has as many leaves as the honest log
// it split from: a root other than the one cosigned at that size, which
// C2SP tlog-witness (since C2SP/C2SP#280) answers with 422, as it does a
// consistency proof that fails.
func wantRefused(t *testing.T, witnesses []witnessProc, forked *serverProc) {
	t.Helper()
	resp, err := http.Get(forked.URL + "/log/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	signed, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("forked checkpoint: %d %v", resp.StatusCode, err)
	}
	c, err := tlog.ParseUnverified(signed)
	if err != nil {
		t.Fatal(err)
	}
	for _, wp := range witnesses {
		_, held, err := witness.Submit(context.Background(), http.DefaultClient, wp.url, 0, nil, signed)
		if !errors.Is(err, witness.ErrOldSize) || held != c.Size {
			t.Fatalf("witness %s holds size %d (%v), want the fork's size %d", wp.url, held, err, c.Size)
		}
		lines, _, err := witness.Submit(context.Background(), http.DefaultClient, wp.url, held, nil, signed)
		var refused *witness.StatusError
		if !errors.As(err, &refused) || refused.Code != http.StatusUnprocessableEntity {
			t.Errorf("witness %s answered a fork at its own size with %q, %v; want a 422 refusal", wp.url, lines, err)
		}
	}
}

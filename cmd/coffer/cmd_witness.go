package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/coffer-backup/coffer/internal/atomicfile"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/coffer-backup/coffer/internal/tlog"
	"github.com/coffer-backup/coffer/internal/witness"
)

// Files of a witness's data directory besides witness.StateFile.
const (
	witnessKeyFile  = "witness.key"  // the cosigning key, secret, 0600
	witnessVkeyFile = "witness.vkey" // its verifier key, public
	maxWitnessKey   = 4 << 10
)

// defaultWitnessListen is where a witness listens unless told otherwise.
const defaultWitnessListen = "127.0.0.1:8480"

// HTTP limits of the witness: requests are small (witness.MaxRequestSize)
// and answered at once.
const (
	witnessHeaderTimeout = 10 * time.Second
	witnessIOTimeout     = 30 * time.Second
	witnessIdleTimeout   = 2 * time.Minute
	witnessMaxHeader     = 16 << 10
	witnessShutdownGrace = 10 * time.Second
)

// witnessFlags registers the flags of coffer witness.
func witnessFlags(fs *flag.FlagSet, o *opts) {
	fs.StringVar(&o.data, "data", "", "directory of the witness's key and state (required)")
	fs.StringVar(&o.listen, "listen", defaultWitnessListen, "TCP address to listen on (plain HTTP: cosignatures are signed, nothing is secret)")
	fs.Var(&o.logKeys, "log", "verifier key of a log to witness, as in the log server's DATA/log.vkey; its name is the log's origin (repeatable, at least one)")
	fs.StringVar(&o.name, "name", "", "the witness's key name when it is first made (default coffer-witness-<hostname>)")
}

// runWitness is "coffer witness serve": a C2SP tlog-witness
// (docs/transparency.md §T.4) that cosigns the checkpoints of the --log
// logs at POST /add-checkpoint until ctx is done.
func runWitness(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 || args[0] != "serve" {
		return usageError{"usage: coffer witness serve --data DIR --log VKEY... [--listen ADDR] [--name NAME]"}
	}
	if e.o.data == "" {
		return usageError{"witness serve needs --data DIR"}
	}
	logs, err := witnessLogs(e.o.logKeys)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(e.o.data, 0o700); err != nil {
		return err
	}
	signer, vkey, err := witnessKey(e.o.data, e.o.name)
	if err != nil {
		return err
	}
	st, err := witness.OpenFileStore(e.o.data)
	if err != nil {
		return err
	}
	w, err := witness.New(st, signer, logs)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", e.o.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	e.say("witness %s listening on http://%s", vkey, ln.Addr())
	return serveWitness(ctx, ln, w, e.stderr)
}

// witnessLogs parses the --log verifier keys into the witness's logs by
// origin.
func witnessLogs(vkeys []string) (map[string]note.Verifier, error) {
	if len(vkeys) == 0 {
		return nil, usageError{"witness serve needs at least one --log VKEY"}
	}
	logs := make(map[string]note.Verifier, len(vkeys))
	for _, k := range vkeys {
		v, err := tlog.NewLogVerifier(k)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--log: %v", err)}
		}
		if logs[v.Name()] != nil {
			return nil, usageError{fmt.Sprintf("--log: two keys for log %s", v.Name())}
		}
		logs[v.Name()] = v
	}
	return logs, nil
}

// witnessKey loads the witness's cosigning key from dir, making it on
// first start (named name, else coffer-witness-<hostname>), and returns
// it with its verifier key. A loaded key must be readable by its owner
// only, match its verifier key file, and bear name if one is given.
func witnessKey(dir, name string) (note.Signer, string, error) {
	keyPath, vkeyPath := filepath.Join(dir, witnessKeyFile), filepath.Join(dir, witnessVkeyFile)
	skey, err := readWitnessFile(keyPath, true)
	if errors.Is(err, os.ErrNotExist) {
		return newWitnessKey(keyPath, vkeyPath, name)
	} else if err != nil {
		return nil, "", err
	}
	defer clear(skey)
	signer, err := tlog.NewCosigner(string(skey), nil)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", keyPath, err)
	}
	vkey, err := readWitnessFile(vkeyPath, false)
	if err != nil {
		return nil, "", err
	}
	verifier, err := tlog.NewCosignatureVerifier(string(vkey))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", vkeyPath, err)
	}
	probe := []byte("coffer witness key check\n")
	sig, err := signer.Sign(probe)
	if err != nil || verifier.Name() != signer.Name() || verifier.KeyHash() != signer.KeyHash() || !verifier.Verify(probe, sig) {
		return nil, "", fmt.Errorf("%s is not the verifier key of %s", vkeyPath, keyPath)
	}
	if name != "" && name != signer.Name() {
		return nil, "", fmt.Errorf("--name %s, but the witness key in %s is named %s", name, keyPath, signer.Name())
	}
	return signer, strings.TrimSpace(string(vkey)), nil
}

// newWitnessKey makes and saves a cosigning key: the verifier key first,
// so a key file never exists without it.
func newWitnessKey(keyPath, vkeyPath, name string) (note.Signer, string, error) {
	if name == "" {
		host, _ := os.Hostname()
		name = "coffer-witness-" + host
	}
	skey, vkey, err := tlog.GenerateCosignerKey(name)
	if err != nil {
		return nil, "", fmt.Errorf("%w (choose another --name)", err)
	}
	signer, err := tlog.NewCosigner(skey, nil)
	if err != nil {
		return nil, "", err
	}
	if err := atomicfile.Write(vkeyPath, []byte(vkey+"\n"), 0o644); err != nil {
		return nil, "", err
	}
	if err := atomicfile.Write(keyPath, []byte(skey+"\n"), 0o600); err != nil {
		return nil, "", err
	}
	return signer, vkey, nil
}

// readWitnessFile reads a small key file; a secret one must not be
// accessible to group or others.
func readWitnessFile(path string, secret bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if secret && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is accessible to other users (mode %04o); make it 0600", path, info.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxWitnessKey+1))
	if err != nil || len(b) > maxWitnessKey {
		return nil, fmt.Errorf("reading %s (at most %d bytes): %v", path, maxWitnessKey, err)
	}
	return b, nil
}

// serveWitness serves h on ln until ctx is done, then lets running
// requests finish for a grace period.
func serveWitness(ctx context.Context, ln net.Listener, h http.Handler, errLog io.Writer) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: witnessHeaderTimeout,
		ReadTimeout:       witnessIOTimeout,
		WriteTimeout:      witnessIOTimeout,
		IdleTimeout:       witnessIdleTimeout,
		MaxHeaderBytes:    witnessMaxHeader,
		ErrorLog:          log.New(errLog, "coffer: witness: ", 0),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), witnessShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close() // cut off what the grace period did not finish
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

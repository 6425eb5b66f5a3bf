package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/server/meta/pgtest"
	"github.com/coffer-backup/coffer/internal/store/remote"
)

// coffer is the path of the coffer binary TestMain builds.
var coffer string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "coffer-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	coffer = filepath.Join(dir, "coffer")
	build := exec.Command("go", "build", "-o", coffer, "github.com/coffer-backup/coffer/cmd/coffer")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	code := 1
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building coffer:", err)
	} else {
		code = pgtest.Main(m) // stops the PostgreSQL cluster a test started
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// serverProc is a running coffer serve process.
type serverProc struct {
	cmd    *exec.Cmd
	URL    string
	listen string // host:port, kept across restarts
	data   string
	done   chan struct{} // closed when the process has exited
	urls   chan string   // where it says it serves

	mu  sync.Mutex
	log []string // the server's log, shown if the test fails
}

var servingRE = regexp.MustCompile(`^coffer: serving on (\S+)$`)

// startServer runs coffer serve with data in data, listening on listen
// ("127.0.0.1:0" picks a port) with the extra flags, and waits until it
// says where it serves.
func startServer(t *testing.T, data, listen string, extra ...string) *serverProc {
	t.Helper()
	p := launchServer(t, data, listen, extra...)
	if err := p.await(); err != nil {
		t.Fatal(err)
	}
	return p
}

// launchServer starts coffer serve as startServer does without waiting
// for it to serve (await does), so that several may start together. The
// process is killed when the test ends.
func launchServer(t *testing.T, data, listen string, extra ...string) *serverProc {
	t.Helper()
	args := append([]string{"serve", "--data", data, "--listen", listen}, extra...)
	cmd := exec.Command(coffer, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{cmd: cmd, data: data, done: make(chan struct{}), urls: make(chan string, 1)}
	go p.readLog(stderr)
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("the server's last log lines:\n%s", p.tail(20))
		}
	})
	return p
}

// readLog keeps the server's log lines, sends the URL it serves on to
// p.urls, and closes p.done when the process has exited.
func (p *serverProc) readLog(stderr io.Reader) {
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
			p.urls <- m[1]
		}
		p.mu.Lock()
		p.log = append(p.log, sc.Text())
		p.mu.Unlock()
	}
	p.cmd.Wait()
	close(p.done)
}

// tail returns the server's last n log lines.
func (p *serverProc) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.log[max(0, len(p.log)-n):], "\n")
}

// logged reports whether a line of the server's log contains s.
func (p *serverProc) logged(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range p.log {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// awaitPackStored waits until p has stored a pack (its log shows a
// completed PUT of one), so that a kill then lands in the middle of a
// backup of several packs however fast the machine is. It fails the test
// if the backup, whose end ended reports, ends first, or if no pack is
// stored within 60 s.
func (p *serverProc) awaitPackStored(t *testing.T, ended <-chan error) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		if p.loggedAll(`"route":"object_put","status":201`, `"target":"packs/`) {
			return
		}
		select {
		case err := <-ended:
			t.Fatalf("the backup ended (%v) before the server stored a pack; the test needs a longer backup", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	t.Fatal("the server stored no pack within 60 s")
}

// loggedAll reports whether one line of the server's log contains every
// one of subs.
func (p *serverProc) loggedAll(subs ...string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range p.log {
		if !slices.ContainsFunc(subs, func(s string) bool { return !strings.Contains(line, s) }) {
			return true
		}
	}
	return false
}

// await waits until the server says where it serves and records it, or
// returns an error with its log if it exits first or takes over 20 s.
func (p *serverProc) await() error {
	select {
	case p.URL = <-p.urls:
	case <-p.done:
		return fmt.Errorf("coffer serve exited before serving: %s", p.tail(5))
	case <-time.After(20 * time.Second):
		return fmt.Errorf("coffer serve did not say where it serves")
	}
	_, hostport, _ := strings.Cut(p.URL, "://")
	p.listen, _, _ = strings.Cut(hostport, "#")
	return nil
}

// kill ends the server with SIGKILL, as a crash would, and waits for it.
func (p *serverProc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// peakRSS returns the server's peak resident set size in KiB (VmHWM).
func (p *serverProc) peakRSS(t *testing.T) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// user is one device's Coffer home, used through the coffer binary.
type user struct {
	home string
	env  []string
}

const passphrase = "correct horse battery staple"

// newUser makes a home with device keys sealed under the cheapest Argon2id
// parameters, so that each command unlocks them quickly.
func newUser(t *testing.T, name string) *user {
	t.Helper()
	h := home.Home{Dir: filepath.Join(t.TempDir(), name)}
	if err := os.MkdirAll(h.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	d, err := keys.NewDevice(name)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Zero()
	if err := keys.Save(h.KeystorePath(), d, []byte(passphrase), keys.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COFFER_") {
			env = append(env, kv)
		}
	}
	return &user{home: h.Dir, env: append(env, "COFFER_HOME="+h.Dir, "COFFER_PASSPHRASE="+passphrase)}
}

// device unlocks the user's device keys.
func (u *user) device(t *testing.T) *keys.Device {
	t.Helper()
	d, err := keys.Load(filepath.Join(u.home, "device.key"), []byte(passphrase))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// remoteStore opens account's store on the server at url through the
// library client, as u's device; the store is closed and the device key
// zeroed when the test ends.
func (u *user) remoteStore(t *testing.T, url, account string) (*remote.Store, *keys.Device) {
	t.Helper()
	dev := u.device(t)
	t.Cleanup(dev.Zero)
	st, err := remote.Open(url, remote.Options{Account: account, Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, dev
}

// command returns coffer with args, run as the user with extra environment.
func (u *user) command(ctx context.Context, extra []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, coffer, args...)
	cmd.Env = append(append([]string{}, u.env...), extra...)
	return cmd
}

// run runs coffer and returns its standard output; it fails the test if
// coffer fails.
func (u *user) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := u.try(nil, args...)
	if err != nil {
		t.Fatalf("coffer %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// try runs coffer and returns its output, or an error with its stderr.
func (u *user) try(extra []string, args ...string) (string, error) {
	cmd := u.command(context.Background(), extra, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// runJSON runs coffer with --json and decodes its output into out.
func (u *user) runJSON(t *testing.T, out any, args ...string) {
	t.Helper()
	if err := json.Unmarshal([]byte(u.run(t, append(args, "--json")...)), out); err != nil {
		t.Fatalf("coffer %s: %v", strings.Join(args, " "), err)
	}
}

// writeTree writes files of pseudo-random bytes (incompressible, so every
// byte reaches the store) of the given sizes under dir.
func writeTree(t *testing.T, dir string, seed uint64, sizes ...int) {
	t.Helper()
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	rng := rand.NewChaCha8(key)
	for i, size := range sizes {
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%3), fmt.Sprintf("f%d.bin", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, size)
		rng.Read(b)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sameTree fails the test unless the regular files under got and want
// have the same relative paths and contents.
func sameTree(t *testing.T, got, want string) {
	t.Helper()
	read := func(root string) map[string][]byte {
		files := map[string][]byte{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			files[rel], err = os.ReadFile(p)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	g, w := read(got), read(want)
	if len(g) != len(w) {
		t.Errorf("%s has %d files, %s has %d", got, len(g), want, len(w))
	}
	for name, b := range w {
		if !bytes.Equal(g[name], b) {
			t.Errorf("%s differs from the original (%d bytes restored, %d backed up)", name, len(g[name]), len(b))
		}
	}
}

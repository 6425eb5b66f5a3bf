package server

import (
	"bufio"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/server/wire"
)

// buildCoffer builds the coffer command into a temp directory.
func buildCoffer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "coffer")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/coffer-backup/coffer/cmd/coffer").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is a running coffer serve.
type process struct {
	cmd *exec.Cmd
	url string
}

// startServe runs coffer serve on data and waits for the line giving its
// URL. Its log is drained into t.Log when the test fails.
func startServe(t *testing.T, bin, data string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // already gone in most tests
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if url, ok := strings.CutPrefix(sc.Text(), "coffer: serving on "); ok {
			go func() { _, _ = io.Copy(io.Discard, stderr) }() // keep the pipe flowing
			return &process{cmd: cmd, url: url}
		}
		t.Log(sc.Text())
	}
	t.Fatal("coffer serve ended without giving its URL")
	return nil
}

// stall is a request body that sends its first half, then blocks until
// released, as a client cut off mid-upload.
type stall struct {
	data    []byte
	sent    int
	release chan struct{}
	halfway chan struct{}
}

func (s *stall) Read(p []byte) (int, error) {
	if s.sent == len(s.data)/2 {
		close(s.halfway)
		<-s.release
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, s.data[s.sent:len(s.data)/2])
	s.sent += n
	return n, nil
}

// TestKill9 kills a real coffer serve with SIGKILL while uploads are in
// flight, restarts it, and checks that only complete uploads are visible,
// that the cut-off names are free, and that tokens survived.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the coffer command")
	}
	bin := buildCoffer(t)
	data := t.TempDir()
	p := startServe(t, bin, data, "--insecure-http", "--quota", "1GiB")
	e := &env{t: t, url: p.url, client: &http.Client{}}
	a := e.newAccount(1)
	if !strings.HasPrefix(p.url, "http://127.0.0.1:") {
		t.Fatalf("URL %q", p.url)
	}

	var complete []string
	for i := range 3 {
		b, name := content(uint64(i), 1<<20)
		e.put(a.token, "packs", b, name, 201)
		complete = append(complete, name)
	}
	// Four uploads stalled halfway, and a writer storing small packs
	// until the server dies.
	var stalled []string
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		b, name := content(uint64(100+i), 8<<20)
		stalled = append(stalled, name)
		body := &stall{data: b, release: release, halfway: make(chan struct{})}
		r, err := http.NewRequest("PUT", p.url+"/v1/objects/packs/"+name, body)
		if err != nil {
			t.Fatal(err)
		}
		r.ContentLength = int64(len(b))
		r.Header.Set("Authorization", "Bearer "+a.token)
		wg.Go(func() {
			if res, err := e.client.Do(r); err == nil {
				res.Body.Close()
				t.Errorf("a stalled upload got an answer: %d", res.StatusCode)
			}
		})
		<-body.halfway
	}
	var mu sync.Mutex
	stored := map[string]bool{} // names answered 201
	stop := make(chan struct{})
	wg.Go(func() {
		for i := uint64(1000); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			b, name := content(i, 64<<10+int(i%5)*50_000)
			r, err := http.NewRequest("PUT", p.url+"/v1/objects/packs/"+name, strings.NewReader(string(b)))
			if err != nil {
				t.Error(err)
				return
			}
			r.Header.Set("Authorization", "Bearer "+a.token)
			res, err := e.client.Do(r)
			if err != nil {
				return // the server is gone
			}
			res.Body.Close()
			if res.StatusCode == 201 {
				mu.Lock()
				stored[name] = true
				mu.Unlock()
			}
		}
	})
	waitTemps(t, filepath.Join(data, "accounts", a.id, "tmp"), 4)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) { // let the writer get going
		mu.Lock()
		n := len(stored)
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer stored nothing")
		}
	}
	time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond) // then kill at any moment of an upload
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait() // killed: its status says so
	close(release)
	close(stop)
	wg.Wait()

	p = startServe(t, bin, data, "--insecure-http")
	e.url = p.url
	listed := map[string]bool{}
	for _, o := range decode[wire.ListResponse](t, e.do(req{method: "GET", path: "/v1/objects/packs/", token: a.token})).Objects {
		r := e.do(req{method: "GET", path: "/v1/objects/packs/" + o.Name, token: a.token})
		if r.status != 200 || sha(r.body) != o.Name || int64(len(r.body)) != o.Size {
			t.Errorf("listed pack %s is not complete: %d, %d bytes, listed as %d", o.Name, r.status, len(r.body), o.Size)
		}
		listed[o.Name] = true
	}
	for _, name := range complete {
		if !listed[name] {
			t.Errorf("pack %s stored before the kill is missing", name)
		}
	}
	for name := range stored {
		if !listed[name] {
			t.Errorf("pack %s acknowledged before the kill is missing", name)
		}
	}
	t.Logf("%d packs listed after the kill, %d of them acknowledged by the writer", len(listed), len(stored))
	for i, name := range stalled {
		if listed[name] {
			t.Errorf("a cut-off upload is listed: %s", name)
		}
		b, _ := content(uint64(100+i), 8<<20)
		e.put(a.token, "packs", b, name, 201) // its name is free
	}
	// A graceful stop ends the process with status 0.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("coffer serve after SIGTERM: %v", err)
	}
}

// waitTemps waits until dir holds n files of at least 1 MiB.
func waitTemps(t *testing.T, dir string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		entries, _ := os.ReadDir(dir)
		big := 0
		for _, e := range entries {
			if fi, err := e.Info(); err == nil && fi.Size() >= 1<<20 {
				big++
			}
		}
		if big >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never held %d large temp files", dir, n)
}

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium, which .ci/run installs with apt.
const chromiumPath = "/usr/bin/chromium"

// webTree writes what the browser tests browse: a photo, a text file
// and a large file of size bytes; it returns the large file's SHA-256.
func webTree(t *testing.T, dir string, size int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 128, 255})
		}
	}
	var pic bytes.Buffer
	if err := png.Encode(&pic, img); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "photos", "beach.png"), pic.Bytes())
	writeFile(t, filepath.Join(dir, "notes", "todo.txt"), []byte(webText))
	return writeLarge(t, filepath.Join(dir, "big", "large.bin"), size)
}

// writeLarge writes size pseudo-random bytes, a MiB at a time, and returns
// their SHA-256.
func writeLarge(t *testing.T, name string, size int) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.NewChaCha8([32]byte{12})
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= len(buf) {
		b := buf[:min(left, len(buf))]
		_, _ = rng.Read(b)
		h.Write(b)
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

const webText = "buy milk\n<script>alert(1)</script> stays text\n"

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// headless starts Debian's chromium, headless and without its sandbox
// (tests run as root), downloading into dir. It skips the test where
// chromium is missing, unless CI is set: .ci/run installs it.
func headless(t *testing.T, dir string) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is missing (%v): make chromium installs it", err)
		}
		t.Skipf("chromium is missing (%v); make chromium installs it", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Flag("headless", "new"))
	if os.Getenv("COFFER_CHROMIUM_LOG") != "" { // the browser's log, workers' consoles included
		opts = append(opts, chromedp.Flag("enable-logging", "stderr"), chromedp.Flag("v", "0"), chromedp.CombinedOutput(os.Stderr))
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(cancel3)
	on := true
	_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &on})
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// pageErrors collects the page's uncaught exceptions and Content Security
// Policy or Trusted Types violations, which the test requires to be none.
type pageErrors struct {
	mu   sync.Mutex
	errs []string
	logs []string // the console, shown when a step fails
}

func (p *pageErrors) console() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.logs...)
}

func (p *pageErrors) watch(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Listen(ctx, func(ev any) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			p.errs = append(p.errs, e.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			for _, a := range e.Args {
				p.logs = append(p.logs, string(e.Type)+": "+string(a.Value)+" "+a.Description)
			}
		}
	})
	if err == nil {
		_, err = chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));`})
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (p *pageErrors) check(t *testing.T, ctx context.Context) {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__violations || []`))
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errs)+len(v) > 0 {
		t.Fatalf("page errors %q, policy violations %q", p.errs, v)
	}
}

// entry is the folder entry named name.
func entry(name string) chromedp.Search {
	return chromedp.Search(`//*[@data-testid="entry" and text()="` + name + `"]`)
}

// crumb is the breadcrumb's element named name.
func crumb(name string) chromedp.Search {
	return chromedp.Search(`//*[@data-testid="breadcrumb"]//button[text()="` + name + `"]`)
}

// testID is the element with that data-testid.
func testID(id string) chromedp.CSS { return chromedp.CSS(`[data-testid="` + id + `"]`) }

// downloads waits for the download the page starts next and returns the
// path it completed at.
type downloads struct {
	done chan string
}

func watchDownloads(t *testing.T, ctx context.Context, dir string) *downloads {
	t.Helper()
	d := &downloads{done: make(chan string, 4)}
	err := chromedp.ListenBrowser(ctx, func(ev any) {
		if e, ok := ev.(*browser.EventDownloadProgress); ok {
			switch e.State {
			case browser.DownloadProgressStateCompleted:
				d.done <- filepath.Join(dir, e.GUID)
			case browser.DownloadProgressStateCanceled:
				d.done <- ""
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func fileSHA256(t *testing.T, name string) string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// webPage is a headless Chromium tab with its errors and downloads
// watched.
type webPage struct {
	ctx   context.Context
	pe    pageErrors
	dl    *downloads
	dlDir string
}

func newWebPage(t *testing.T) *webPage {
	t.Helper()
	p := &webPage{dlDir: t.TempDir()}
	p.ctx = headless(t, p.dlDir)
	p.pe.watch(t, p.ctx)
	p.dl = watchDownloads(t, p.ctx, p.dlDir)
	return p
}

// open navigates to url and waits for the snapshot list; it returns how
// long that took.
func (p *webPage) open(t *testing.T, url string) time.Duration {
	t.Helper()
	start := time.Now()
	if err := chromedp.Do(p.ctx, chromedp.Navigate(url), chromedp.WaitVisible(testID("snapshot"))); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// browseAndDownload drives the page from the snapshot list as a user
// would: into root's folders, the photo and text previews, and the large
// file's download, whose SHA-256 must be want. It returns the download's
// duration.
func (p *webPage) browseAndDownload(t *testing.T, root, want string) time.Duration {
	t.Helper()
	ctx, dl, pe := p.ctx, p.dl, &p.pe
	dev, err := chromedp.Run(ctx, chromedp.TextContent(testID("device")))
	if err != nil || !strings.HasPrefix(dev, "laptop · ") {
		t.Errorf("device list: %q %v", dev, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(testID("snapshot")),
		chromedp.Click(entry(root)),
		chromedp.Click(entry("photos")),
		chromedp.WaitVisible(crumb("photos")),
		chromedp.Click(entry("beach.png")),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="preview"] img`)))
	if err != nil {
		t.Fatal(err)
	}
	width, err := chromedp.Run(ctx, chromedp.Poll[int](`document.querySelector('[data-testid="preview"] img').naturalWidth || false`))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(crumb(root)),
		chromedp.Click(entry("notes")),
		chromedp.Click(entry("todo.txt")),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="preview"] pre`)))
	if err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`[data-testid="preview"] pre`)))
	if err != nil {
		t.Fatal(err)
	}
	if width != 64 || text != webText {
		t.Fatalf("previews: image %d pixels wide (want 64), text %q", width, text)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(crumb(root)),
		chromedp.Click(entry("big")),
		chromedp.Click(entry("large.bin")),
		chromedp.WaitVisible(testID("download")))
	if err != nil {
		t.Fatal(err)
	}
	dlStart := time.Now()
	if err := chromedp.Do(ctx, chromedp.Click(testID("download"))); err != nil {
		t.Fatal(err)
	}
	var got string
	select {
	case got = <-dl.done:
	case <-ctx.Done():
		t.Fatal("no download completed")
	}
	took := time.Since(dlStart)
	if got == "" {
		t.Fatal("the download was canceled")
	}
	if sum := fileSHA256(t, got); sum != want {
		t.Fatalf("downloaded file's SHA-256 %s, want %s", sum, want)
	}
	pe.check(t, ctx)
	return took
}

// startWebLocal runs coffer web --listen and returns the URL it prints.
func startWebLocal(t *testing.T, u *user, store string) (string, *exec.Cmd) {
	t.Helper()
	cmd := u.command(context.Background(), nil, "web", "--listen", "127.0.0.1:0", "--store", store, "--json")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("coffer web: %v: %s", err, stderr.String())
	}
	var res struct{ URL string }
	if err := json.Unmarshal([]byte(line), &res); err != nil || !strings.HasPrefix(res.URL, "http://127.0.0.1:") {
		t.Fatalf("coffer web printed %q: %v", line, err)
	}
	return res.URL, cmd
}

// TestWebLocal browses, previews and downloads in headless Chromium
// through coffer web --listen, the local mode, then signs out, which
// stops the process.
func TestWebLocal(t *testing.T) {
	u := newUser(t, "laptop")
	src := filepath.Join(t.TempDir(), "home")
	const size = 48 << 20
	want := webTree(t, src, size)
	store := filepath.Join(t.TempDir(), "store")
	u.run(t, "init", "--store", store)
	u.run(t, "backup", "--store", store, src)
	url, cmd := startWebLocal(t, u, store)
	p := newWebPage(t)
	ctx := p.ctx
	first := p.open(t, url)
	took := p.browseAndDownload(t, "home", want)
	t.Logf("local mode: first listing after %v; %d MiB downloaded in %v (%.0f MB/s)",
		first.Round(time.Millisecond), size>>20, took.Round(time.Millisecond), float64(size)/took.Seconds()/1e6)
	if err := chromedp.Do(ctx, chromedp.Click(testID("sign-out"))); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("coffer web after sign-out: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("coffer web still runs after the page signed out")
	}
}

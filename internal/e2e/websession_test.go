package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/websession"
)

// webBrowser is the browser side of issue 12 driven from Go: a
// websession.Browser speaking to a real coffer serve --web over HTTP, as
// the web app does, without a browser.
type webBrowser struct {
	t     *testing.T
	url   string
	b     *websession.Browser
	grant *websession.Grant
	token string
}

func newWebBrowser(t *testing.T, url string) *webBrowser {
	b, err := websession.NewBrowser(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &webBrowser{t: t, url: url, b: b}
}

// do sends a request and returns the status and body.
func (w *webBrowser) do(method, path string, body []byte, token string) (int, []byte) {
	w.t.Helper()
	r, err := http.NewRequest(method, w.url+path, bytes.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		w.t.Fatal(err)
	}
	return res.StatusCode, b
}

// put writes a mailbox slot, retrying while the device has not opened
// the mailbox yet.
func (w *webBrowser) put(slot int, body []byte) {
	w.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		st, resp := w.do("PUT", fmt.Sprintf("/v1/pairings/%s/%d", w.b.MailboxID(), slot), body, "")
		if st == http.StatusCreated {
			return
		}
		if st != http.StatusNotFound || time.Now().After(deadline) {
			w.t.Fatalf("slot %d: %d %s", slot, st, resp)
		}
		time.Sleep(time.Second)
	}
}

// get waits for a mailbox slot.
func (w *webBrowser) get(slot int) []byte {
	w.t.Helper()
	for range 6 {
		st, body := w.do("GET", fmt.Sprintf("/v1/pairings/%s/%d?wait=10", w.b.MailboxID(), slot), nil, "")
		if st == http.StatusOK {
			return body
		}
		if st != http.StatusNoContent {
			w.t.Fatalf("slot %d: %d %s", slot, st, body)
		}
	}
	w.t.Fatalf("slot %d stayed empty", slot)
	return nil
}

// approve runs the browser's side of the exchange while the user runs
// coffer web approve with the code, and returns the comparison code the
// browser showed and the command's stderr.
func (w *webBrowser) approve(u *user, extra ...string) (string, string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := u.command(ctx, nil, append([]string{"web", "approve", w.b.Code(), "--json", "--timeout", "50s"}, extra...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	offer, err := w.b.Offer()
	if err != nil {
		w.t.Fatal(err)
	}
	w.put(1, offer)
	posted := time.Now()
	acc, err := w.b.Accept(w.get(2))
	if err != nil {
		w.t.Fatal(err)
	}
	cs, err := w.b.Countersign()
	if err != nil {
		w.t.Fatal(err)
	}
	w.put(3, cs)
	if w.grant, err = w.b.OpenGrant(w.get(4)); err != nil {
		w.t.Fatal(err)
	}
	w.t.Logf("approval: %v from the offer's post to the opened grant", time.Since(posted).Round(time.Millisecond))
	if err := cmd.Wait(); err != nil {
		w.t.Fatalf("web approve: %v: %s", err, stderr.String())
	}
	return acc.Compare, stderr.String()
}

// decline runs coffer web approve with the code, interactively, and
// answers "no" once the browser shows its comparison code: the command
// must fail and append nothing. It returns the two comparison codes.
func (w *webBrowser) decline(u *user) (browser, device string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := u.command(ctx, nil, "web", "approve", w.b.Code(), "--timeout", "50s")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		w.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	offer, err := w.b.Offer()
	if err != nil {
		w.t.Fatal(err)
	}
	w.put(1, offer)
	acc, err := w.b.Accept(w.get(2))
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := io.WriteString(stdin, "no\n"); err != nil {
		w.t.Fatal(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err == nil || !strings.Contains(stderr.String(), "the browser session was not confirmed") {
		w.t.Fatalf("declined approve: %v: %s", err, stderr.String())
	}
	m := compareRE.FindStringSubmatch(stderr.String())
	if m == nil {
		w.t.Fatalf("no comparison code in %q", stderr.String())
	}
	return acc.Compare, m[1]
}

// login authenticates as the session; it returns the status of the
// challenge or token request that failed, or 200.
func (w *webBrowser) login() int {
	w.t.Helper()
	req, _ := json.Marshal(wire.ChallengeRequest{Account: w.grant.Account, Device: w.b.SessionID()})
	st, body := w.do("POST", "/v1/auth/challenge", req, "")
	if st != http.StatusOK {
		return st
	}
	var ch wire.ChallengeResponse
	if err := json.Unmarshal(body, &ch); err != nil {
		w.t.Fatal(err)
	}
	sig := w.b.Sign(wire.AuthMessage(w.grant.Account, w.b.SessionID(), ch.Challenge))
	req, _ = json.Marshal(wire.TokenRequest{Account: w.grant.Account, Device: w.b.SessionID(), Challenge: ch.Challenge, Signature: sig})
	st, body = w.do("POST", "/v1/auth/token", req, "")
	if st != http.StatusOK {
		return st
	}
	var tok wire.TokenResponse
	if err := json.Unmarshal(body, &tok); err != nil {
		w.t.Fatal(err)
	}
	w.token = tok.Token
	return st
}

// snapshots reads and opens every snapshot object with the granted keys.
func (w *webBrowser) snapshots() (int, [][]byte) {
	w.t.Helper()
	st, body := w.do("GET", "/v1/objects/snapshots/", nil, w.token)
	if st != http.StatusOK {
		return st, nil
	}
	var list wire.ListResponse
	if err := json.Unmarshal(body, &list); err != nil {
		w.t.Fatal(err)
	}
	keys := make([]*crypt.Key, len(w.grant.DataKeys))
	for i := range w.grant.DataKeys {
		keys[i] = &w.grant.DataKeys[i]
	}
	opener := crypt.NewOpener(keys...)
	var out [][]byte
	for _, o := range list.Objects {
		st, env := w.do("GET", "/v1/objects/snapshots/"+o.Name, nil, w.token)
		if st != http.StatusOK {
			return st, nil
		}
		pt, err := opener.Open(nil, env, crypt.AD(crypt.ADSnapshot, nil))
		if err != nil {
			w.t.Fatalf("snapshot %s does not open with the granted keys: %v", o.Name, err)
		}
		out = append(out, pt)
	}
	return http.StatusOK, out
}

var compareRE = regexp.MustCompile(`comparison code: ([0-9A-Z]{5}-[0-9A-Z]{5})`)

// TestWebSession is issue 12's protocol end to end without a browser: a
// device approves a Go websession.Browser against a real coffer serve
// --web; the browser reads and decrypts the snapshots with what it was
// granted, is refused every write, and is locked out by revoke and by
// expiry; the server's data holds neither the plaintext nor the keys.
func TestWebSession(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data, "127.0.0.1:0", "--insecure-http", "--web")
	u := newUser(t, "laptop")
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, 12, 200<<10)
	secret := []byte("the plaintext that must not reach the server 5f1c")
	if err := os.WriteFile(filepath.Join(src, "note.txt"), secret, 0o600); err != nil {
		t.Fatal(err)
	}
	u.run(t, "init", "--store", srv.URL)
	u.run(t, "backup", src)
	phone := newUser(t, "phone")
	pair(t, u, phone, srv.URL)

	w := newWebBrowser(t, srv.URL)
	if out, err := u.try(nil, "web", "approve", w.b.Code(), "--yes", "--timeout", "2s"); err == nil || !strings.Contains(err.Error(), "web access is off") {
		t.Fatalf("approve with web access off: %q %v", out, err)
	}
	u.run(t, "web", "enable")
	declined := newWebBrowser(t, srv.URL)
	if b, d := declined.decline(u); b != d {
		t.Errorf("declined approval: the browser showed %s, the device %s", b, d)
	}
	compare, stderr := w.approve(u, "--yes")
	if m := compareRE.FindStringSubmatch(stderr); m == nil || m[1] != compare {
		t.Fatalf("the device showed %q, the browser %s", stderr, compare)
	}
	if st := w.login(); st != http.StatusOK {
		t.Fatalf("session login: %d", st)
	}
	st, snaps := w.snapshots()
	if st != http.StatusOK || len(snaps) != 1 || !bytes.Contains(snaps[0], []byte(filepath.Base(src))) {
		t.Fatalf("snapshots: %d, %d opened", st, len(snaps))
	}
	for _, q := range []struct{ method, path string }{
		{"PUT", "/v1/objects/snapshots/" + strings.Repeat("0", 64)},
		{"DELETE", "/v1/objects/snapshots/" + strings.Repeat("0", 64)},
		{"GET", "/v1/objects/keys/"},
		{"POST", "/v1/chain"},
		{"POST", "/v1/pairings"},
	} {
		if st, body := w.do(q.method, q.path, []byte("{}"), w.token); st != http.StatusForbidden {
			t.Errorf("%s %s as a browser session: %d %s", q.method, q.path, st, body)
		}
	}
	if _, stderr := phone.runStderr(t, "snapshots"); !strings.Contains(stderr, "approved browser session "+w.b.SessionID()) {
		t.Errorf("the other device did not report the new session: %q", stderr)
	}
	if _, stderr := phone.runStderr(t, "snapshots"); strings.Contains(stderr, "browser session") {
		t.Errorf("the other device reported the session twice: %q", stderr)
	}
	var sessions struct {
		WebAccess bool `json:"web_access"`
		Sessions  []struct{ ID, State string }
	}
	u.runJSON(t, &sessions, "web", "sessions")
	if !sessions.WebAccess || len(sessions.Sessions) != 1 || // the declined one was never appended
		sessions.Sessions[0].ID != w.b.SessionID() || sessions.Sessions[0].State != "active" {
		t.Fatalf("web sessions: %+v", sessions)
	}
	u.run(t, "web", "revoke", w.b.SessionID()[:8])
	if st, _ := w.snapshots(); st != http.StatusUnauthorized {
		t.Errorf("reading after revoke: %d", st)
	}
	if st := w.login(); st != http.StatusForbidden {
		t.Errorf("login after revoke: %d", st)
	}

	short := newWebBrowser(t, srv.URL)
	short.approve(u, "--yes", "--duration", "3s")
	if st := short.login(); st != http.StatusOK {
		t.Fatalf("short session login: %d", st)
	}
	time.Sleep(3500 * time.Millisecond)
	if st, _ := short.snapshots(); st != http.StatusUnauthorized && st != http.StatusForbidden {
		t.Errorf("reading after not-after: %d", st)
	}
	if st := short.login(); st != http.StatusForbidden {
		t.Errorf("login after not-after: %d", st)
	}
	noSecrets(t, data, srv, append([][]byte{secret, w.grant.IDKey[:], w.grant.ConfKey[:]}, dataKeys(w.grant)...))
}

func dataKeys(g *websession.Grant) [][]byte {
	var out [][]byte
	for i := range g.DataKeys {
		out = append(out, g.DataKeys[i][:])
	}
	return out
}

// noSecrets fails if a file of the server's data directory or its log
// holds one of secrets, raw or in base64.
func noSecrets(t *testing.T, data string, srv *serverProc, secrets [][]byte) {
	t.Helper()
	logText := []byte(srv.tail(1 << 20))
	err := filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			for _, form := range [][]byte{s, []byte(base64.StdEncoding.EncodeToString(s)), []byte(base64.RawURLEncoding.EncodeToString(s))} {
				if bytes.Contains(b, form) || bytes.Contains(logText, form) {
					t.Errorf("%s or the log holds a secret", p)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

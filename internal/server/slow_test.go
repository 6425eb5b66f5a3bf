package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// slowEnv is a server whose reads and writes may stall for only 300 ms,
// with small socket buffers on both ends so that a slow client really
// holds up the server's writes.
func slowEnv(t *testing.T) (*env, *account) {
	e := newServer(t)
	e.s.progress = 300 * time.Millisecond
	hs := httptest.NewUnstartedServer(e.s.Handler())
	hs.Listener = smallBuffers{hs.Listener}
	hs.Start()
	t.Cleanup(hs.Close)
	e.url = hs.URL
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			err = c.(*net.TCPConn).SetReadBuffer(32 << 10)
		}
		return c, err
	}
	e.client = &http.Client{Transport: &http.Transport{DialContext: dial}}
	return e, e.newAccount(1)
}

// smallBuffers gives accepted connections a small send buffer.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		err = c.(*net.TCPConn).SetWriteBuffer(32 << 10)
	}
	return c, err
}

// throttled yields r in 128 KiB pieces, pausing between them; a pause of
// stallAt bytes in is long instead.
type throttled struct {
	r       io.Reader
	pause   time.Duration
	n       int
	stallAt int
	stall   time.Duration
}

func (t *throttled) Read(p []byte) (int, error) {
	if t.n > 0 {
		time.Sleep(t.pause)
	}
	if t.stallAt > 0 && t.n >= t.stallAt {
		time.Sleep(t.stall)
		t.stallAt = 0
	}
	n, err := t.r.Read(p[:min(len(p), 128<<10)])
	t.n += n
	return n, err
}

// putThrottled uploads data through a throttled body and returns the status,
// or 0 if the connection failed.
func (e *env) putThrottled(token string, data []byte, name string, body *throttled) int {
	r, err := http.NewRequest("PUT", e.url+"/v1/objects/packs/"+name, body)
	if err != nil {
		e.t.Fatal(err)
	}
	r.ContentLength = int64(len(data))
	r.Header.Set("Authorization", "Bearer "+token)
	res, err := e.client.Do(r)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// TestSlowTransfers checks that uploads and downloads lasting far longer
// than the stall limit complete as long as they keep moving.
func TestSlowTransfers(t *testing.T) {
	e, a := slowEnv(t)
	data, name := content(1, 2<<20)
	start := time.Now()
	if st := e.putThrottled(a.token, data, name, &throttled{r: bytes.NewReader(data), pause: 10 * time.Millisecond}); st != 201 {
		t.Fatalf("slow upload: %d", st)
	}
	if d := time.Since(start); d < 2*e.s.progress {
		t.Errorf("the upload took only %v; the test proves nothing", d)
	}
	r, err := http.NewRequest("GET", e.url+"/v1/objects/packs/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+a.token)
	start = time.Now()
	res, err := e.client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, &throttled{r: res.Body, pause: 10 * time.Millisecond}, make([]byte, 128<<10)); err != nil {
		t.Fatalf("slow download: %v", err)
	}
	if hex.EncodeToString(h.Sum(nil)) != name {
		t.Error("slow download: wrong bytes")
	}
	if d := time.Since(start); d < 2*e.s.progress {
		t.Errorf("the download took only %v; the test proves nothing", d)
	}
}

// TestStalledUpload checks that an upload that stops moving is cut off and
// leaves nothing behind.
func TestStalledUpload(t *testing.T) {
	e, a := slowEnv(t)
	data, name := content(1, 2<<20)
	body := &throttled{r: bytes.NewReader(data), stallAt: 1 << 20, stall: 4 * e.s.progress}
	if st := e.putThrottled(a.token, data, name, body); st == 201 {
		t.Fatal("a stalled upload was stored")
	}
	e.do(req{method: "HEAD", path: "/v1/objects/packs/" + name, token: a.token}).want(t, "stalled object", 404, "")
	tmp, err := os.ReadDir(filepath.Join(e.s.accountDir(a.id), "tmp"))
	if err != nil || len(tmp) != 0 {
		t.Errorf("temp files after a stalled upload: %v, %v", tmp, err)
	}
	e.put(a.token, "packs", data, name, 201)
}

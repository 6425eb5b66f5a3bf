//go:build js && wasm

// Command wasm is the web app's WebAssembly (docs/web.md, "The web app"):
// it runs in the page's dedicated Worker, holds the browser session's
// ephemeral keys in its memory only, signs in with websession through the
// server's mailbox, and answers the page's API requests with the same
// webapi.API handler the native binary serves in local mode. It talks to
// the Worker's script by postMessage: to the page, {type: "code" |
// "compare" | "ready" | "failed" | "ended" | "head" | "chunk" | "end"};
// from the page, through the functions it sets on self.cofferGo:
// request(id, method, url), ack(id), cancel(id), signOut().
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"syscall/js"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/coffer-backup/coffer/internal/webapi"
	"github.com/coffer-backup/coffer/internal/websession"
)

// chunkSize bounds one message of a response body; window bounds the
// chunks sent and not yet acknowledged, so a slow consumer (the disk a
// download goes to) holds the producer back.
const (
	chunkSize = 1 << 20
	window    = 16
)

type app struct {
	mu       sync.Mutex
	sess     *webapi.Session
	cancel   context.CancelFunc
	requests map[int]*stream
}

func main() {
	self := js.Global()
	a := &app{requests: map[int]*stream{}}
	b, err := websession.NewBrowser(rand.Reader)
	if err != nil {
		post(map[string]any{"type": "failed", "error": err.Error()})
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	self.Set("cofferGo", js.ValueOf(map[string]any{
		"request": js.FuncOf(a.request), "ack": js.FuncOf(a.ack), "cancel": js.FuncOf(a.cancelRequest),
		"signOut": js.FuncOf(func(js.Value, []js.Value) any { a.end("signed out"); return nil }),
	}))
	build := self.Get("cofferBuild").String()
	post(map[string]any{"type": "code", "code": b.Code(), "session": b.SessionID(), "build": build, "qr": qrRows(b.Code())})
	go a.signIn(ctx, b, self.Get("cofferOrigin").String(), build)
	select {}
}

// signIn waits for the approval, then serves until the session ends.
func (a *app) signIn(ctx context.Context, b *websession.Browser, origin, build string) {
	s := &webapi.SignIn{Browser: b, Origin: origin, Build: build,
		OnCompare: func(code string, notAfter time.Time) {
			post(map[string]any{"type": "compare", "compare": code, "expires": notAfter.UnixMilli()})
		}}
	sess, err := s.Run(ctx)
	if err != nil {
		post(map[string]any{"type": "failed", "error": err.Error()})
		return
	}
	a.mu.Lock()
	a.sess = sess
	a.mu.Unlock()
	exp := sess.API.Info.Expires
	post(map[string]any{"type": "ready", "expires": exp.UnixMilli(), "account": sess.API.Info.Account})
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(exp)):
		a.end("expired")
	}
}

// end forgets the session's keys and token and tells the page why.
func (a *app) end(why string) {
	a.mu.Lock()
	if a.sess != nil {
		a.sess.Close()
		a.sess = nil
	}
	a.mu.Unlock()
	a.cancel()
	post(map[string]any{"type": "ended", "why": why})
}

// qrRows returns the QR code of the session code as rows of "0" and "1"
// (dark), its quiet zone included, for the page to draw; nil if it cannot
// be made.
func qrRows(code string) any {
	q, err := qrcode.New(code, qrcode.Medium)
	if err != nil {
		return nil
	}
	var rows []any
	for _, row := range q.Bitmap() {
		b := make([]byte, len(row))
		for i, dark := range row {
			b[i] = '0'
			if dark {
				b[i] = '1'
			}
		}
		rows = append(rows, string(b))
	}
	return rows
}

func post(msg map[string]any, transfer ...any) {
	js.Global().Call("postMessage", js.ValueOf(msg), js.ValueOf(transfer))
}

// request(id, method, url) runs the API on a goroutine of its own.
func (a *app) request(_ js.Value, args []js.Value) any {
	id, method, raw := args[0].Int(), args[1].String(), args[2].String()
	a.mu.Lock()
	sess := a.sess
	ctx, cancel := context.WithCancel(context.Background())
	s := &stream{id: id, h: http.Header{}, credit: make(chan struct{}, window), cancel: cancel}
	a.requests[id] = s
	a.mu.Unlock()
	go func() {
		defer a.forget(id)
		s.serve(ctx, sess, method, raw)
	}()
	return nil
}

func (a *app) forget(id int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.requests[id]; s != nil {
		s.cancel()
	}
	delete(a.requests, id)
}

func (a *app) lookup(id int) *stream {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests[id]
}

// ack(id) returns one chunk's credit.
func (a *app) ack(_ js.Value, args []js.Value) any {
	if s := a.lookup(args[0].Int()); s != nil {
		select {
		case <-s.credit:
		default:
		}
	}
	return nil
}

func (a *app) cancelRequest(_ js.Value, args []js.Value) any {
	if s := a.lookup(args[0].Int()); s != nil {
		s.cancel()
	}
	return nil
}

// stream is an http.ResponseWriter that posts the response to the page.
type stream struct {
	id     int
	h      http.Header
	wrote  bool
	credit chan struct{}
	cancel context.CancelFunc
	ctx    context.Context
}

func (s *stream) Header() http.Header { return s.h }

func (s *stream) WriteHeader(status int) {
	if s.wrote {
		return
	}
	s.wrote = true
	hdr := map[string]any{}
	for k := range s.h {
		hdr[k] = s.h.Get(k)
	}
	post(map[string]any{"type": "head", "id": s.id, "status": status, "headers": hdr})
}

// Write posts p in chunks, each waiting for a credit.
func (s *stream) Write(p []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	n := 0
	for len(p) > 0 {
		select {
		case s.credit <- struct{}{}:
		case <-s.ctx.Done():
			return n, s.ctx.Err()
		}
		c := p[:min(len(p), chunkSize)]
		buf := js.Global().Get("Uint8Array").New(len(c))
		js.CopyBytesToJS(buf, c)
		post(map[string]any{"type": "chunk", "id": s.id, "data": buf}, buf.Get("buffer"))
		n += len(c)
		p = p[len(c):]
	}
	return n, nil
}

// serve runs the handler and posts the end, with the error that cut the
// body short if any.
func (s *stream) serve(ctx context.Context, sess *webapi.Session, method, raw string) {
	s.ctx = ctx
	errMsg := ""
	defer func() {
		if r := recover(); r != nil {
			errMsg = fmt.Sprint("response aborted: ", r)
		}
		post(map[string]any{"type": "end", "id": s.id, "error": errMsg})
	}()
	u, err := url.Parse(raw)
	if err != nil || sess == nil {
		if err == nil {
			err = errors.New("not signed in")
		}
		s.h.Set("Content-Type", "application/json")
		s.WriteHeader(http.StatusServiceUnavailable)
		_, _ = s.Write([]byte(`{"error":` + fmt.Sprintf("%q", err.Error()) + `}`))
		return
	}
	r := (&http.Request{Method: method, URL: u, Header: http.Header{}, Host: u.Host}).WithContext(ctx)
	sess.API.ServeHTTP(s, r)
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
}

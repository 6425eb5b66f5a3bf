package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/coffer-backup/coffer/internal/browse"
	"github.com/coffer-backup/coffer/internal/webapi"
	"github.com/coffer-backup/coffer/internal/webui"
)

type webListenResult struct {
	URL   string `json:"url"`
	Build string `json:"build"`
}

// webListen serves the web app with this device's own keys on a
// loopback address (coffer web --listen ADDR, docs/web.md "Local mode")
// until ctx ends (SIGINT, SIGTERM) or the page signs out.
func (e *env) webListen(ctx context.Context) error {
	if e.o.listen == "" {
		return usageError{"usage: coffer web --listen 127.0.0.1:PORT"}
	}
	if err := webui.CheckLoopback(e.o.listen); err != nil {
		return usageError{err.Error()}
	}
	s, err := e.openRepo(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", e.o.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", e.o.listen, err)
	}
	ctx, signOut := context.WithCancel(ctx)
	defer signOut()
	api := &webapi.API{B: browse.New(s.repo, s.chain, e.warner()),
		Info: webapi.Info{Mode: "local", Account: s.chain.Account(), Build: webui.BuildHash()}}
	loc, err := webui.NewLocal(ln.Addr().String(), api, signOut)
	if err != nil {
		ln.Close()
		return err
	}
	return e.serveLocal(ctx, ln, loc)
}

// serveLocal serves loc on ln, prints its URL, and shuts down when ctx
// ends, letting the requests under way finish.
func (e *env) serveLocal(ctx context.Context, ln net.Listener, loc *webui.Local) error {
	srv := &http.Server{Handler: loc, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	res := webListenResult{URL: loc.URL(), Build: webui.BuildHash()}
	if err := e.emit(res, func(w io.Writer) { fmt.Fprintln(w, res.URL) }); err != nil {
		return err
	}
	e.say("serving the web app with this device's keys; open the URL above (it holds a secret token); Ctrl-C or the page's sign-out stops it")
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// webListenFlags are the flags of coffer web --listen.
func webListenFlags(fs *flag.FlagSet, o *opts) {
	storeFlag(fs, o)
	fs.StringVar(&o.listen, "listen", "", "serve the web app with this device's keys on this loopback address (127.0.0.1:PORT; port 0 picks one) until Ctrl-C or sign-out")
}

// The web app coffer serve --web serves at / (server mode).
func init() {
	webAppHandler = func() http.Handler {
		h, err := webui.Handler(webui.Page{Mode: "server"})
		if err != nil {
			panic(err) // the embedded files are part of the binary: a test covers them
		}
		return h
	}
}

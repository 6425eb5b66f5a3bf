// Package webapi is the web app's JSON browse API (docs/web.md, "The web
// app"): one http.Handler over a browse.Browser, which the native binary
// serves to the page in local mode (coffer web --listen) and which, in
// server mode, the page's Worker runs compiled to WebAssembly, after
// SignIn has had a device approve the session, so the server never sees a
// key or a decrypted byte. It builds for GOOS=js and embeds nothing.
package webapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/coffer-backup/coffer/internal/browse"
)

// Info is what the page shows about the session.
type Info struct {
	Mode    string    `json:"mode"` // "local" or "server"
	Account string    `json:"account"`
	Expires time.Time `json:"expires,omitzero"`
	Build   string    `json:"build"` // SHA-256 of the WebAssembly build, hex
}

// API answers the page's requests under api/ (docs/web.md, "The web
// app"): GET snapshots, list?snap=&path=, file?snap=&path=, devices,
// info. Every answer but a file's content is JSON; errors are
// {"error": "..."} with a 4xx or 5xx status.
type API struct {
	B    *browse.Browser
	Info Info
}

// ServeHTTP routes by the path's last element: the API is mounted under
// a prefix (http.StripPrefix) that differs by mode.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		apiError(w, http.StatusMethodNotAllowed, errors.New("the browse API only reads"))
		return
	}
	q := r.URL.Query()
	switch r.URL.Path {
	case "snapshots":
		reply(w, func() (any, error) { return a.B.Snapshots(r.Context()) })
	case "list":
		reply(w, func() (any, error) { return a.B.List(r.Context(), q.Get("snap"), q.Get("path")) })
	case "devices":
		reply(w, func() (any, error) { return a.B.Devices(r.Context()), nil })
	case "info":
		reply(w, func() (any, error) { return a.Info, nil })
	case "file":
		a.file(w, r, q.Get("snap"), q.Get("path"))
	default:
		apiError(w, http.StatusNotFound, fmt.Errorf("no API call %q", r.URL.Path))
	}
}

// reply writes what get returns as JSON, or its error.
func reply(w http.ResponseWriter, get func() (any, error)) {
	v, err := get()
	if err != nil {
		apiError(w, statusOf(err), err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, browse.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, browse.ErrNotDir), errors.Is(err, browse.ErrNotFile):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func apiError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// file streams a file's content as an attachment, never as anything a
// browser would render: the page previews it only through a blob: URL
// of the type it chooses (docs/web.md, "Threat model"). A blob that
// fails to authenticate midway aborts the response, so the download
// fails instead of ending short.
func (a *API) file(w http.ResponseWriter, r *http.Request, snap, p string) {
	f, err := a.B.Open(r.Context(), snap, p)
	if err != nil {
		apiError(w, statusOf(err), err)
		return
	}
	defer func() { _ = f.Close() }()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatUint(f.Size, 10))
	h.Set("Content-Disposition", ContentDisposition(f.Name))
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, f); err != nil {
		panic(http.ErrAbortHandler)
	}
}

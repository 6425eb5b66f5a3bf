package webui

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"testing/fstest"
	"time"
)

// static holds the page, its script and style, the Worker script and the
// WebAssembly build (make webwasm, reproducible: see wasm.go).
//
//go:embed static
var static embed.FS

// wasmName is the WebAssembly build's file in static/.
const wasmName = "coffer.wasm"

var (
	hashOnce  sync.Once
	buildHash string
)

// BuildHash returns the SHA-256, in hex, of the WebAssembly build
// embedded in this binary: what `coffer version` prints and the sign-in
// page shows, to compare with a published release's.
func BuildHash() string {
	hashOnce.Do(func() {
		b, err := static.ReadFile("static/" + wasmName)
		if err == nil {
			s := sha256.Sum256(b)
			buildHash = hex.EncodeToString(s[:])
		}
	})
	return buildHash
}

// sri returns the Subresource Integrity value of a static file.
func sri(name string) (string, error) {
	b, err := static.ReadFile("static/" + name)
	if err != nil {
		return "", err
	}
	s := sha512.Sum384(b)
	return "sha384-" + base64.StdEncoding.EncodeToString(s[:]), nil
}

// Page says how index.html is filled in.
type Page struct {
	Mode string // "local" or "server"
	CSRF string // the token state-changing requests carry (local mode)
}

// render fills index.html's placeholders: the mode, the CSRF token, the
// build hash and the integrity of every script, style and the wasm.
func render(p Page) ([]byte, error) {
	b, err := static.ReadFile("static/index.html")
	if err != nil {
		return nil, err
	}
	repl := []string{"__MODE__", p.Mode, "__CSRF__", p.CSRF, "__BUILD__", BuildHash()}
	for _, name := range []string{"app.js", "server.js", "style.css", "worker.js", wasmName} {
		v, err := sri(name)
		if err != nil && name != wasmName {
			return nil, err
		}
		repl = append(repl, "__SRI_"+name+"__", v)
	}
	return []byte(strings.NewReplacer(repl...).Replace(string(b))), nil
}

// FS returns the web app's files for mode p, index.html filled in: what
// `coffer serve --web` serves at / (with SetHeaders' headers).
func FS(p Page) (fs.FS, error) {
	index, err := render(p)
	if err != nil {
		return nil, err
	}
	out := fstest.MapFS{"index.html": {Data: index, Mode: 0o444}}
	entries, err := static.ReadDir("static")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Name() == "index.html" {
			continue
		}
		b, err := static.ReadFile("static/" + e.Name())
		if err != nil {
			return nil, err
		}
		out[e.Name()] = &fstest.MapFile{Data: b, Mode: 0o444}
	}
	return out, nil
}

// Handler serves the web app's files for mode p, with SetHeaders'
// headers: "" and index.html the page, anything else a static file.
func Handler(p Page) (http.Handler, error) {
	fsys, err := FS(p)
	if err != nil {
		return nil, err
	}
	return WithHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveFile(w, r, fsys)
	})), nil
}

// contentTypes are the types of the app's files, by extension.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8", ".wasm": "application/wasm", ".svg": "image/svg+xml",
}

func serveFile(w http.ResponseWriter, r *http.Request, fsys fs.FS) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "index.html"
	}
	b, err := fs.ReadFile(fsys, name)
	ct, known := contentTypes[path.Ext(name)]
	if err != nil || !known {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// String describes the page for logs.
func (p Page) String() string { return fmt.Sprintf("web app (%s mode)", p.Mode) }

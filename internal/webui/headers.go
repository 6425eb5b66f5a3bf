package webui

import "net/http"

// CSP is the Content-Security-Policy of every response of the web app
// (docs/web.md, "Threat model"): scripts only from the app's own origin,
// WebAssembly compiled only from what those scripts fetch, no inline
// script or style, images only from the origin or blob: (previews), no
// framing, and Trusted Types, so that no string can become a script URL
// or markup except through the app's one policy, "coffer", which admits
// only the app's own worker scripts.
const CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' blob:; " +
	"connect-src 'self'; worker-src 'self' blob:; frame-src 'none'; frame-ancestors 'none'; base-uri 'none'; " +
	"form-action 'none'; manifest-src 'none'; require-trusted-types-for 'script'; trusted-types coffer"

// SetHeaders sets the security headers every response of the web app
// carries, the API's included.
func SetHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cross-Origin-Embedder-Policy", "require-corp")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
	h.Set("Cache-Control", "no-store")
}

// WithHeaders wraps h so that every response carries SetHeaders'.
func WithHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetHeaders(w.Header())
		h.ServeHTTP(w, r)
	})
}

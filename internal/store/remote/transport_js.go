package remote

import "net/http"

// platformTransport returns, in a browser (GOOS=js, the web app), a
// transport without a dialer, which net/http then runs over the page's
// fetch(): the browser connects and checks TLS, on the web app's own
// origin, so t's dialer, pin check and pool do not apply.
func platformTransport(*http.Transport) http.RoundTripper { return &http.Transport{} }

//go:build !js

package remote

import "net/http"

// platformTransport returns t: natively the client dials itself.
func platformTransport(t *http.Transport) http.RoundTripper { return t }

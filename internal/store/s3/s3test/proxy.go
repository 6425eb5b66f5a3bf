package s3test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Proxy starts, until the test ends, a reverse proxy to the server that
// passes each request through edit and then on (Forward). It returns the
// proxy's endpoint. edit may answer the request itself by writing to w and
// returning false.
func (s *Server) Proxy(t testing.TB, edit func(w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if edit(w, r) {
			s.Forward(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Forward sends r to the server, signed again with the test credentials
// for its current headers, as a service would check a request that was
// changed on its way, and writes the answer to w.
func (s *Server) Forward(w http.ResponseWriter, r *http.Request) {
	target, err := url.Parse(s.Endpoint)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		resign(pr.Out)
	}}
	rp.ServeHTTP(w, r)
}

// resign replaces a request's SigV4 signature with one of the test
// credentials for its current headers and host.
func resign(r *http.Request) {
	payload := r.Header.Get("X-Amz-Content-Sha256")
	r.Header.Del("Authorization")
	r.Header.Del("X-Amz-Date")
	creds := aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey}
	_ = v4.NewSigner().SignHTTP(r.Context(), creds, r, payload, "s3", Region, time.Now()) // fails only without credentials
}

// IgnoringIfNoneMatch returns the endpoint of a proxy to the server that
// drops If-None-Match from every request: a service that ignores the
// condition, and so replaces objects a PUT should have found taken.
func (s *Server) IgnoringIfNoneMatch(t testing.TB) string {
	t.Helper()
	return s.Proxy(t, func(_ http.ResponseWriter, r *http.Request) bool {
		r.Header.Del("If-None-Match")
		return true
	})
}

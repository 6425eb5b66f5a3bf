package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/home"
	"github.com/coffer-backup/coffer/internal/store/remote"
	"github.com/coffer-backup/coffer/internal/tlog"
)

// TestPinLogNeverWeakens: a device that already holds a log policy for a
// server keeps its key and witnesses when join or recover runs again
// without flags, even if the server now states another key; another key
// given explicitly is refused; witnesses only add up.
func TestPinLogNeverWeakens(t *testing.T) {
	t.Setenv("COFFER_HOME", t.TempDir())
	_, stated, err := tlog.GenerateLogKey("other.example/log")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/log/vkey" {
			io.WriteString(w, stated+"\n")
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	h, err := home.Locate()
	if err != nil {
		t.Fatal(err)
	}
	_, pinned, _ := tlog.GenerateLogKey("log.coffer.example/v1")
	_, w1, _ := tlog.GenerateCosignerKey("w1.example")
	_, w2, _ := tlog.GenerateCosignerKey("w2.example")
	s, _ := h.Settings()
	s.Logs = map[string]home.LogPolicy{srv.URL: {Key: pinned, Witnesses: []string{w1}, Threshold: 1}}
	if err := h.SaveSettings(s); err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	rs, err := remote.Open(srv.URL, remote.Options{Account: "00112233445566778899aabbccddeeff", Signer: priv})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		o         opts
		err       string
		witnesses int
		threshold int
	}{
		{"no flags", opts{}, "", 1, 1},
		{"another key", opts{logKey: stated}, "already trusts another log key", 1, 1},
		{"one more witness", opts{witnesses: multi{w2}}, "", 2, 2},
		{"a lower threshold", opts{witnesses: multi{w1}, witnessThreshold: 1}, "", 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &env{o: tc.o, stdout: io.Discard, stderr: io.Discard}
			err := e.pinLog(context.Background(), h, srv.URL, rs)
			if (err != nil) != (tc.err != "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("pinLog: %v, want %q", err, tc.err)
			}
			s, _ := h.Settings()
			p := s.Logs[srv.URL]
			if p.Key != pinned || len(p.Witnesses) != tc.witnesses || p.Threshold != tc.threshold {
				t.Errorf("policy {key %s, %d of %d}, want {key %s, %d of %d}", p.Key, p.Threshold, len(p.Witnesses), pinned, tc.threshold, tc.witnesses)
			}
		})
	}
}

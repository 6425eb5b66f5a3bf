package witness

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/coffer-backup/coffer/internal/tlog"
)

// step is one submission and what the witness must answer.
type step struct {
	name   string
	old    uint64
	proof  []tlog.Hash
	signed []byte
	status int    // 200, or the refusal's status
	size   uint64 // the witness's size on 409 with a size body
}

// run submits each step with Submit and checks the answer; a cosignature
// must satisfy a policy that requires the witness.
func run(t *testing.T, f *fixture, steps []step) {
	t.Helper()
	policy := tlog.Policy{Log: f.logV, Witnesses: []note.Verifier{f.cosignV}, Threshold: 1}
	for _, s := range steps {
		lines, size, err := Submit(context.Background(), f.srv.Client(), f.srv.URL+"/", s.old, s.proof, s.signed)
		var se *StatusError
		switch {
		case s.status == http.StatusOK:
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			c, names, err := policy.Verify(append(bytes.Clone(s.signed), lines...))
			if err != nil || !slices.Equal(names, []string{"witness.example/w1"}) {
				t.Fatalf("%s: cosigned checkpoint does not verify: %v", s.name, err)
			}
			if unverified, _ := tlog.ParseUnverified(s.signed); *c != unverified {
				t.Fatalf("%s: cosigned another checkpoint", s.name)
			}
		case s.size != 0:
			if !errors.Is(err, ErrOldSize) || size != s.size {
				t.Fatalf("%s: got size %d, %v; want 409 with size %d", s.name, size, err, s.size)
			}
		case !errors.As(err, &se) || se.Code != s.status:
			t.Fatalf("%s: got %v, want status %d", s.name, err, s.status)
		}
	}
}

func TestAddCheckpoint(t *testing.T) {
	f := newFixture(t)
	a := f.newLog().grow(t, "a", 9)
	// b is a fork of a after leaf 3, signed by the same log key.
	b := f.newLog().grow(t, "a", 3).grow(t, "b", 9)
	impostor, _ := logKey(t, origin)
	fake := &testLog{signer: impostor, hashes: a.hashes, n: a.n}
	other, _ := logKey(t, "other.example/log")
	unknown := &testLog{signer: other, hashes: a.hashes, n: a.n}
	bad := a.proof(t, 5, 7)
	bad[0][0] ^= 1
	run(t, f, []step{
		{"first checkpoint", 0, nil, a.signed(t, 3), 200, 0},
		{"same again from 0", 0, nil, a.signed(t, 3), 409, 3},
		{"same again from 3", 3, nil, a.signed(t, 3), 200, 0},
		{"growth with a proof", 3, a.proof(t, 3, 5), a.signed(t, 5), 200, 0},
		{"rollback, old size beyond it", 5, nil, a.signed(t, 3), 400, 0},
		{"rollback from its own size", 3, nil, a.signed(t, 3), 409, 5},
		{"split view at the same size", 5, nil, b.signed(t, 5), 422, 0},
		{"fork with its own proof", 5, b.proof(t, 5, 7), b.signed(t, 7), 422, 0},
		{"bad proof", 5, bad, a.signed(t, 7), 422, 0},
		{"proof with an extra hash", 5, append(a.proof(t, 5, 7), tlog.Hash{}), a.signed(t, 7), 422, 0},
		{"no proof", 5, nil, a.signed(t, 7), 422, 0},
		{"signed by another key", 5, a.proof(t, 5, 7), fake.signed(t, 7), 403, 0},
		{"unknown log", 0, nil, unknown.signed(t, 7), 404, 0},
		{"not a checkpoint", 5, nil, []byte("hello\n\n— x AAAA\n"), 400, 0},
		{"growth after refusals", 5, a.proof(t, 5, 7), a.signed(t, 7), 200, 0},
	})

	// A restart keeps the state: rollback and the fork stay refused.
	f.start(t)
	run(t, f, []step{
		{"after restart, from 0", 0, nil, a.signed(t, 7), 409, 7},
		{"after restart, rollback", 7, nil, a.signed(t, 5), 400, 0},
		{"after restart, fork", 7, b.proof(t, 7, 9), b.signed(t, 9), 422, 0},
		{"after restart, growth", 7, a.proof(t, 7, 9), a.signed(t, 9), 200, 0},
	})
}

// TestHTTP checks the protocol around add-checkpoint: methods, paths,
// limits and the 409 media type.
func TestHTTP(t *testing.T) {
	f := newFixture(t)
	a := f.newLog().grow(t, "a", 3)
	post := func(path string, body []byte) *http.Response {
		resp, err := f.srv.Client().Post(f.srv.URL+path, "text/plain", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if resp := post("/add-checkpoint", FormatRequest(0, nil, a.signed(t, 3))); resp.StatusCode != 200 {
		t.Fatalf("first checkpoint: %s", resp.Status)
	}
	resp := post("/add-checkpoint", FormatRequest(0, nil, a.signed(t, 3)))
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 409 || resp.Header.Get("Content-Type") != "text/x.tlog.size" || string(body) != "3\n" {
		t.Fatalf("409: %s %q %q", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
		status int
	}{
		{"GET", http.MethodGet, "/add-checkpoint", nil, 405},
		{"other path", http.MethodPost, "/checkpoint", nil, 404},
		{"too large", http.MethodPost, "/add-checkpoint", make([]byte, MaxRequestSize+1), 413},
		{"empty", http.MethodPost, "/add-checkpoint", nil, 400},
		{"old size with a leading zero", http.MethodPost, "/add-checkpoint", FormatRequest(3, nil, a.signed(t, 3))[1:], 400},
	}
	for _, tc := range tests {
		req, err := http.NewRequest(tc.method, f.srv.URL+tc.path, bytes.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %s, want %d", tc.name, resp.Status, tc.status)
		}
	}
}

// TestConcurrentSubmissions: of many identical first submissions exactly
// one is cosigned; the rest learn the new size.
func TestConcurrentSubmissions(t *testing.T) {
	f := newFixture(t)
	signed := f.newLog().grow(t, "a", 3).signed(t, 3)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, conflicts := 0, 0
	for range 16 {
		wg.Go(func() {
			_, size, err := Submit(context.Background(), f.srv.Client(), f.srv.URL, 0, nil, signed)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrOldSize) && size == 3:
				conflicts++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || conflicts != 15 {
		t.Fatalf("%d cosigned, %d conflicts", ok, conflicts)
	}
}

// TestStateFailure: when the state cannot be written the witness answers
// 500 and cosigns nothing.
func TestStateFailure(t *testing.T) {
	f := newFixture(t)
	a := f.newLog().grow(t, "a", 3)
	if err := os.RemoveAll(f.dir); err != nil {
		t.Fatal(err)
	}
	_, _, err := Submit(context.Background(), f.srv.Client(), f.srv.URL, 0, nil, a.signed(t, 3))
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 500 || strings.Contains(se.Message, "—") {
		t.Fatalf("got %v, want 500", err)
	}
}

func TestFileStore(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := State{Size: 5, Root: tlog.Hash{1, 2, 3}}
	if err := s.Put(origin, want); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s2.Get(origin); err != nil || !ok || got != want {
		t.Fatalf("reopened: %+v %v %v", got, ok, err)
	}
	if _, ok, _ := s2.Get("other"); ok {
		t.Fatal("state for a log never cosigned")
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	hidden, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(names) != 1 || len(hidden) != 0 {
		t.Fatalf("directory holds %v %v", names, hidden)
	}
	for _, bad := range []string{"{", `{"version":2,"logs":{}}`, `{"version":1,"logs":{"x":{"size":9223372036854775808}}}`} {
		if err := os.WriteFile(filepath.Join(dir, StateFile), []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenFileStore(dir); err == nil {
			t.Errorf("opened state %q", bad)
		}
	}
}

func TestNewRefusesMisnamedLogKey(t *testing.T) {
	_, v := logKey(t, "other.example/log")
	st, err := OpenFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, _ := logKey(t, "w.example/x")
	if _, err := New(st, s, map[string]note.Verifier{origin: v}); err == nil {
		t.Fatal("accepted a log key named other than its origin")
	}
}

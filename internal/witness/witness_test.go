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
	"time"

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

// TestGrowthBound: the witness cosigns no checkpoint that adds more than
// its bound of leaves to the last it cosigned (400), nor a first one
// beyond tlog.MaxFirstSize, however consistent: a tree of 2⁴⁰ filler
// leaves costs its log nothing and every client a scan without end.
func TestGrowthBound(t *testing.T) {
	const first, grown = tlog.MaxFirstSize, 5 + tlog.MaxGrowth
	tests := []struct {
		name  string
		opts  []Option
		steps func(t *testing.T, a *testLog, p *paddedLog) []step
	}{
		{"default bound", nil, func(t *testing.T, a *testLog, p *paddedLog) []step {
			return []step{
				{"first checkpoint", 0, nil, a.signed(t, 5), 200, 0},
				{"2^40 leaves more", 5, p.proof(t, 5, 1<<40), p.signed(t, 1<<40), 400, 0},
				{"one more than the bound", 5, p.proof(t, 5, grown+1), p.signed(t, grown+1), 400, 0},
				{"the bound", 5, p.proof(t, 5, grown), p.signed(t, grown), 200, 0},
				{"the bound again", grown, p.proof(t, grown, grown+tlog.MaxGrowth), p.signed(t, grown+tlog.MaxGrowth), 200, 0},
			}
		}},
		{"first checkpoint beyond MaxFirstSize", nil, func(t *testing.T, a *testLog, p *paddedLog) []step {
			return []step{
				{"first beyond", 0, nil, p.signed(t, first+1), 400, 0},
				{"first at", 0, nil, p.signed(t, first), 200, 0},
			}
		}},
		{"bound of 4", []Option{MaxGrowth(4)}, func(t *testing.T, a *testLog, p *paddedLog) []step {
			return []step{
				{"first checkpoint", 0, nil, a.signed(t, 3), 200, 0},
				{"5 more", 3, a.proof(t, 3, 8), a.signed(t, 8), 400, 0},
				{"4 more", 3, a.proof(t, 3, 7), a.signed(t, 7), 200, 0},
				{"the same again", 7, nil, a.signed(t, 7), 200, 0},
			}
		}},
		{"a first checkpoint larger than the bound", []Option{MaxGrowth(4)}, func(t *testing.T, a *testLog, p *paddedLog) []step {
			return []step{{"first of 9", 0, nil, a.signed(t, 9), 200, 0}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.start(t, tc.opts...)
			a := f.newLog().grow(t, "a", 9)
			run(t, f, tc.steps(t, a, a.padded()))
		})
	}
}

// TestCosignAgain: a checkpoint of the size and root the witness holds is
// cosigned again with a fresh timestamp (C2SP tlog-witness allows it), so
// a log can show its clients that its tree is still the latest; the
// state stays as it was.
func TestCosignAgain(t *testing.T) {
	f := newFixture(t)
	a := f.newLog().grow(t, "a", 5)
	policy := tlog.Policy{Log: f.logV, Witnesses: []note.Verifier{f.cosignV}, Threshold: 1}
	for i, when := range []time.Time{t0, t0.Add(time.Hour), t0.Add(25 * time.Hour)} {
		f.now.Store(when.Unix())
		old := uint64(5)
		if i == 0 {
			old = 0
		}
		lines, _, err := Submit(context.Background(), f.srv.Client(), f.srv.URL, old, nil, a.signed(t, 5))
		if err != nil {
			t.Fatalf("submission %d: %v", i, err)
		}
		_, cosigs, err := policy.Open(append(a.signed(t, 5), lines...))
		if err != nil || len(cosigs) != 1 || !cosigs[0].Time.Equal(when) {
			t.Fatalf("submission %d at %v: cosigned %+v, %v", i, when, cosigs, err)
		}
	}
	st, err := OpenFileStore(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := st.Get(origin); !ok || got.Size != 5 {
		t.Fatalf("state %+v after cosigning size 5 again", got)
	}
}

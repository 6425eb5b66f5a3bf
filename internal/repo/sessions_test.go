package repo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
)

func newTestRepo(t *testing.T) *Repo {
	t.Helper()
	st, err := local.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dev, err := keys.NewDevice("test")
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := Create(context.Background(), st, dev)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		st.Close()
	})
	return r
}

func TestSessionLifecycle(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	s, err := r.StartSession(ctx, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	first := mustSessions(t, r, 1)[0]
	if first.ID != s.ID() || first.Host != "laptop" || !first.Start.Equal(first.Refreshed) {
		t.Errorf("marker %+v", first)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	second := mustSessions(t, r, 1)[0]
	if second.Name == first.Name || second.ID != first.ID || !second.Start.Equal(first.Start) || second.Refreshed.Before(first.Refreshed) {
		t.Errorf("refreshed marker %+v, was %+v", second, first)
	}
	if err := s.End(ctx); err != nil {
		t.Fatal(err)
	}
	mustSessions(t, r, 0)
	if err := s.End(ctx); err != nil {
		t.Errorf("second End: %v", err)
	}
	if err := s.Refresh(ctx); err == nil {
		t.Error("Refresh after End succeeded")
	}
}

func mustSessions(t *testing.T, r *Repo, n int) []SessionInfo {
	t.Helper()
	infos, err := r.Sessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != n {
		t.Fatalf("%d sessions, want %d", len(infos), n)
	}
	return infos
}

func TestSessionStale(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		age   time.Duration
		stale bool
	}{
		{0, false},
		{time.Hour, false},
		{SessionStaleAfter, false},
		{SessionStaleAfter + time.Second, true},
		{-time.Hour, false}, // a clock behind ours
	} {
		s := SessionInfo{Start: at.Add(-48 * time.Hour), Refreshed: at}
		if got := s.Stale(at.Add(tc.age)); got != tc.stale {
			t.Errorf("age %v: stale %v", tc.age, got)
		}
	}
}

func TestSessionsRejectForgedMarker(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	golden := readGolden(t)
	// A valid plaintext sealed under another kind's label, as a store
	// might try by moving a snapshot into the sessions kind.
	if _, err := r.SaveObject(ctx, store.Sessions, crypt.ADSnapshot, golden); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Sessions(ctx); !errors.Is(err, crypt.ErrAuth) {
		t.Errorf("forged marker: %v", err)
	}
}

func readGolden(t testing.TB) []byte {
	b, err := os.ReadFile("testdata/session-marker.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMarkerGolden(t *testing.T) {
	golden := readGolden(t)
	m, err := decodeMarker(golden)
	if err != nil {
		t.Fatal(err)
	}
	want := sessionMarker{
		ID: "00112233445566778899aabbccddeeff", Host: "laptop",
		Start:     time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC),
		Refreshed: time.Date(2025, 1, 2, 4, 4, 5, 0, time.UTC),
	}
	if m.ID != want.ID || m.Host != want.Host || !m.Start.Equal(want.Start) || !m.Refreshed.Equal(want.Refreshed) {
		t.Errorf("decoded %+v", m)
	}
	b, err := encodeMarker(&want)
	if err != nil || !bytes.Equal(b, golden) {
		t.Errorf("encoded %s (%v), want %s", b, err, golden)
	}
	if _, err := decodeMarker(append(golden, " \t\r\n"...)); err != nil {
		t.Errorf("trailing JSON white space refused: %v", err)
	}
}

// TestMarkerGoldenProcess: a marker that names its process and boot
// (docs/format.md §8.2) decodes and re-encodes byte for byte.
func TestMarkerGoldenProcess(t *testing.T) {
	golden, err := os.ReadFile("testdata/session-marker-pid.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeMarker(golden)
	if err != nil {
		t.Fatal(err)
	}
	if m.PID != 4242 || m.Boot != "0f1e2d3c4b5a69788796a5b4c3d2e1f0" {
		t.Errorf("decoded %+v", m)
	}
	if b, err := encodeMarker(m); err != nil || !bytes.Equal(b, golden) {
		t.Errorf("encoded %s (%v), want %s", b, err, golden)
	}
}

func TestDecodeMarkerRejects(t *testing.T) {
	golden := string(readGolden(t))
	for _, tc := range []struct{ name, in string }{
		{"not JSON", "session"},
		{"unknown member", strings.Replace(golden, `"host"`, `"hostname"`, 1)},
		{"short ID", strings.Replace(golden, `"00112233445566778899aabbccddeeff"`, `"0011"`, 1)},
		{"upper-case ID", strings.Replace(golden, `aabbccddeeff"`, `AABBCCDDEEFF"`, 1)},
		{"non-hex ID", strings.Replace(golden, `ff"`, `zz"`, 1)},
		{"missing start", strings.Replace(golden, `"start":"2025-01-02T03:04:05.123456789Z",`, ``, 1)},
		{"bad time", strings.Replace(golden, `2025-01-02T04:04:05Z`, `yesterday`, 1)},
		{"long host", strings.Replace(golden, `"laptop"`, `"`+strings.Repeat("h", maxHostLen+1)+`"`, 1)},
		{"invalid UTF-8 host", strings.Replace(golden, `"laptop"`, "\"\xff\"", 1)},
		{"trailing data", golden + "{}"},
		{"trailing brace", golden + "}"},
		{"trailing non-JSON space", golden + "\u00a0"},
		{"too large", golden + strings.Repeat(" ", maxSessionSize)},
		{"negative pid", strings.Replace(golden, `}`, `,"pid":-1}`, 1)},
		{"pid past 2^31-1", strings.Replace(golden, `}`, `,"pid":2147483648}`, 1)},
		{"short boot", strings.Replace(golden, `}`, `,"boot":"0123"}`, 1)},
		{"upper-case boot", strings.Replace(golden, `}`, `,"boot":"0F1E2D3C4B5A69788796A5B4C3D2E1F0"}`, 1)},
	} {
		if _, err := decodeMarker([]byte(tc.in)); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

// FuzzDecodeMarker checks that whatever decodes re-encodes to a marker
// that decodes to the same values, and that nothing panics.
func FuzzDecodeMarker(f *testing.F) {
	f.Add(readGolden(f))
	f.Add([]byte(`{"id":"ffffffffffffffffffffffffffffffff","host":"","start":"2000-01-01T00:00:00+02:00","refreshed":"2000-01-01T00:00:00Z"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"00112233445566778899aabbccddeeff","host":"h","start":"2025-01-02T03:04:05Z","refreshed":"2025-01-02T04:04:05Z","pid":1,"boot":"0f1e2d3c4b5a69788796a5b4c3d2e1f0"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMarker(b)
		if err != nil {
			return
		}
		enc, err := encodeMarker(m)
		if err != nil {
			t.Fatalf("decoded marker does not encode: %v", err)
		}
		m2, err := decodeMarker(enc)
		if err != nil {
			t.Fatalf("re-encoded marker does not decode: %v", err)
		}
		if m2.ID != m.ID || m2.Host != m.Host || !m2.Start.Equal(m.Start) || !m2.Refreshed.Equal(m.Refreshed) || m2.PID != m.PID || m2.Boot != m.Boot {
			t.Fatalf("round trip changed %+v to %+v", m, m2)
		}
	})
}

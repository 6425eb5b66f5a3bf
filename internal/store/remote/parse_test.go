package remote

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store"
)

func TestListPageCheck(t *testing.T) {
	tests := []struct {
		after, page string
		ok          bool
	}{
		{"", `{"objects":[],"next":""}`, true},
		{"", `{"objects":[{"name":"a","size":1},{"name":"b","size":0}],"next":"b"}`, true},
		{"a", `{"objects":[{"name":"b","size":1}],"next":""}`, true},
		{"a", `{"objects":[],"next":"c"}`, true},
		{"b", `{"objects":[{"name":"a","size":1}],"next":""}`, false}, // before after
		{"b", `{"objects":[{"name":"b","size":1}],"next":""}`, false}, // not after after
		{"", `{"objects":[{"name":"b","size":1},{"name":"a","size":1}]}`, false},
		{"", `{"objects":[{"name":"a","size":1},{"name":"a","size":1}]}`, false},
		{"", `{"objects":[{"name":"a","size":-1}]}`, false},
		{"", `{"objects":[{"name":"../x","size":1}]}`, false},
		{"", `{"objects":[{"name":"","size":1}]}`, false},
		{"b", `{"objects":[],"next":"b"}`, false}, // no progress
		{"", `{"objects":[{"name":"c","size":1}],"next":"b"}`, false},
		{"", `{"objects":[],"next":"A"}`, false},
	}
	for _, tc := range tests {
		var p listPage
		if err := json.Unmarshal([]byte(tc.page), &p); err != nil {
			t.Fatal(err)
		}
		if err := p.check(tc.after, 1000); (err == nil) != tc.ok {
			t.Errorf("after %q, %s: got %v", tc.after, tc.page, err)
		}
	}
	var p listPage
	json.Unmarshal([]byte(`{"objects":[`+strings.Repeat(`{"name":"a","size":1},`, 3)+`{"name":"a","size":1}]}`), &p)
	if p.check("", 3) == nil {
		t.Error("a page longer than the limit was accepted")
	}
}

// FuzzListPage checks that an accepted page re-encodes to an equal page
// that is accepted too.
func FuzzListPage(f *testing.F) {
	f.Add("", `{"objects":[{"name":"a","size":1},{"name":"b.c-d","size":123}],"next":"b.c-d"}`)
	f.Add("x", `{"objects":[],"next":""}`)
	f.Add("", `{"objects":[{"name":"0","size":9223372036854775807}]}`)
	f.Fuzz(func(t *testing.T, after, page string) {
		var p listPage
		if json.Unmarshal([]byte(page), &p) != nil || p.check(after, 1000) != nil {
			return
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var q listPage
		if err := json.Unmarshal(b, &q); err != nil || q.check(after, 1000) != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("%s re-encoded as %s: %v", page, b, err)
		}
	})
}

func TestServedLength(t *testing.T) {
	tests := []struct {
		status       int
		contentRange string
		rng          string
		length       int64
		want         int64 // -2: refused
	}{
		{200, "", "", -1, 1000},
		{206, "bytes 10-19/1000", "bytes=10-19", 10, 10},
		{206, "bytes 900-999/1000", "bytes=900-", -1, 100},
		{206, "bytes 999-999/1000", "bytes=999-999", 1, 1},
		{206, "bytes 990-999/1000", "bytes=990-1000", 11, -2}, // clipped
		{206, "bytes 10-19/15", "bytes=10-19", 10, -2},        // past the end
		{206, "bytes 11-20/1000", "bytes=10-19", 10, -2},      // another range
		{206, "bytes 900-998/1000", "bytes=900-", -1, -2},     // short of the end
		{206, "bytes x-y/z", "bytes=10-19", 10, -2},
		{206, "", "bytes=10-19", 10, -2},
		{200, "", "bytes=10-19", 10, -2}, // range ignored
		{206, "bytes 0-9/1000", "", -1, -2},
		{204, "", "", -1, -2},
	}
	for _, tc := range tests {
		resp := &http.Response{StatusCode: tc.status, Status: http.StatusText(tc.status), ContentLength: 1000, Header: http.Header{}}
		if tc.contentRange != "" {
			resp.Header.Set("Content-Range", tc.contentRange)
		}
		got, err := servedLength(resp, tc.rng, tc.length)
		if (tc.want == -2) != (err != nil) || (err == nil && got != tc.want) {
			t.Errorf("%d %q for %q: got %d, %v; want %d", tc.status, tc.contentRange, tc.rng, got, err, tc.want)
		}
	}
}

// TestExactBodyCancelled checks that a response body fails, reading
// nothing more from the connection, as soon as its request is cancelled,
// whether or not its length is known.
func TestExactBodyCancelled(t *testing.T) {
	for _, left := range []int64{100, -1} {
		ctx, cancel := context.WithCancel(context.Background())
		r := strings.NewReader(strings.Repeat("x", 100))
		e := &exactBody{ctx: ctx, rc: io.NopCloser(r), left: left, what: "GET packs/p"}
		if n, err := e.Read(make([]byte, 10)); n != 10 || err != nil {
			t.Fatalf("left %d: Read: %d, %v", left, n, err)
		}
		cancel()
		n, err := e.Read(make([]byte, 10))
		if n != 0 || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "packs/p") || r.Len() != 90 {
			t.Errorf("left %d: Read after cancel: %d, %v; %d bytes left unread", left, n, err, r.Len())
		}
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"no such object", "no such object"},
		{"two\nlines\r\x1b[31mred", "two lines  [31mred"},
		{"bidi \u202e override", "bidi   override"}, // format characters too
		{strings.Repeat("é", maxMessage+5), strings.Repeat("é", maxMessage) + "…"},
	}
	for _, tc := range tests {
		if got := oneLine(tc.in, maxMessage); got != tc.want {
			t.Errorf("oneLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRetryAfterAndDelay(t *testing.T) {
	for h, want := range map[string]time.Duration{"": 0, "3": 3 * time.Second, " 7 ": 7 * time.Second, "-1": 0, "soon": 0, "99999": time.Hour} {
		if got := retryAfter(h); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
	p := policy{attempts: 5, base: 100 * time.Millisecond, max: time.Second, maxRetryAfter: 2 * time.Second}
	for try := 1; try <= 40; try++ {
		full := min(p.base<<min(try-1, 20), p.max)
		if d := p.delay(try, 0); d < full/2 || d > full {
			t.Errorf("delay(%d) = %v, want within [%v, %v]", try, d, full/2, full)
		}
	}
	if d := p.delay(1, 10*time.Second); d != 2*time.Second {
		t.Errorf("Retry-After is not capped: %v", d)
	}
	if d := p.delay(1, 1500*time.Millisecond); d != 1500*time.Millisecond {
		t.Errorf("Retry-After is not honoured: %v", d)
	}
}

func TestChainPageCheck(t *testing.T) {
	entry := func(n int) []byte { return make([]byte, n) }
	many := func(n, size int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = entry(size)
		}
		return out
	}
	tests := []struct {
		name    string
		entries [][]byte
		ok      bool
	}{
		{"none", nil, true},
		{"one", many(1, 100), true},
		{"a full page", many(wire.MaxChainPage, 100), true},
		{"a page too many", many(wire.MaxChainPage+1, 100), false},
		{"an empty entry", [][]byte{entry(1), entry(0)}, false},
		{"the largest entry", many(1, store.MaxChainEntry), true},
		{"an entry too large", many(1, store.MaxChainEntry+1), false},
		{"4 MiB", many(128, store.MaxChainEntry), true},
		{"over 4 MiB", many(129, store.MaxChainEntry), false},
	}
	for _, tc := range tests {
		if err := checkChainPage(tc.entries); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// FuzzChainPage checks that a chain page that decodes and is accepted
// re-encodes to an equal page that is accepted too.
func FuzzChainPage(f *testing.F) {
	f.Add(`{"entries":[]}`)
	f.Add(`{"entries":["AQI=","AwQF"]}`)
	f.Add(`{"entries":[""]}`)
	f.Fuzz(func(t *testing.T, page string) {
		var p wire.ChainPage
		if json.Unmarshal([]byte(page), &p) != nil || checkChainPage(p.Entries) != nil {
			return
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var q wire.ChainPage
		if err := json.Unmarshal(b, &q); err != nil || !reflect.DeepEqual(p.Entries, q.Entries) && len(p.Entries)+len(q.Entries) > 0 {
			t.Fatalf("%s re-encoded as %s: %v", page, b, err)
		}
		if err := checkChainPage(q.Entries); err != nil {
			t.Fatalf("%s re-encoded is refused: %v", page, err)
		}
	})
}

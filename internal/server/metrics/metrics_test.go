package metrics

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden file")

// TestGolden checks the exact exposition of a known set of observations.
func TestGolden(t *testing.T) {
	r := New()
	for _, q := range []Request{
		{Route: "object_put", Status: 201, Duration: 3 * time.Millisecond, Received: 1000},
		{Route: "object_put", Status: 201, Duration: 40 * time.Second, Received: 256 << 20},
		{Route: "object_put", Status: 409, ErrorCode: "exists", Duration: time.Millisecond},
		{Route: "object_get", Status: 206, Duration: 400 * time.Second, Sent: 5},
		{Route: "token", Status: 401, ErrorCode: "unauthenticated", Duration: 0},
	} {
		r.Observe(q)
	}
	var b bytes.Buffer
	accounts := []Account{{"ffee", 2, 30}, {"00aa", 1, 1 << 40}, {`we"ird\`, 0, 0}}
	if err := r.Write(&b, accounts); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "golden.txt")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("exposition differs from %s:\n%s", golden, b.Bytes())
	}
	checkSyntax(t, b.String())
}

// sampleRE is one sample line of the text format: a metric name, optional
// labels with quoted, escaped values, and a value.
var sampleRE = regexp.MustCompile(`^[a-z_]+(\{[a-z_]+="([^"\\\n]|\\.)*"(,[a-z_]+="([^"\\\n]|\\.)*")*\})? ([0-9.e+-]+|\+Inf)$`)

func checkSyntax(t *testing.T, text string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if !strings.HasPrefix(line, "# ") && !sampleRE.MatchString(line) {
			t.Errorf("not a valid sample line: %q", line)
		}
	}
}

// TestEmpty checks that a fresh registry writes every family, with no samples
// for the labelled ones.
func TestEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := New().Write(&b, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"coffer_requests_total", "coffer_request_duration_seconds", "coffer_bytes_received_total",
		"coffer_bytes_sent_total", "coffer_errors_total", "coffer_objects", "coffer_stored_bytes"} {
		if !strings.Contains(b.String(), "# TYPE "+name+" ") {
			t.Errorf("no %s family", name)
		}
	}
	checkSyntax(t, b.String())
}

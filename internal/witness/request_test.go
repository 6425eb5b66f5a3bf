package witness

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/tlog"
)

const exampleCheckpoint = "log.coffer.example/v1\n5\n3XzR9zI8EpWxcuvF7wTTt3XzK6A/60yTy21m3f3cHqM=\n\n— log.coffer.example/v1 JpAa+lVH7g7bflJs90czRnZKpZ4LrA6E3ybeRBMBzRmq7Z5/1XnYDhEBtihh2qqH33gRDxL+UW/cKlWTtLSw1VRbZw0=\n"

func TestParseRequest(t *testing.T) {
	h := "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
	tests := []struct {
		name  string
		body  string
		old   uint64
		proof int
		ok    bool
	}{
		{"no proof", "old 0\n\n" + exampleCheckpoint, 0, 0, true},
		{"two hashes", "old 3\n" + h + h + "\n" + exampleCheckpoint, 3, 2, true},
		{"63 hashes", "old 3\n" + strings.Repeat(h, 63) + "\n" + exampleCheckpoint, 3, 63, true},
		{"64 hashes", "old 3\n" + strings.Repeat(h, 64) + "\n" + exampleCheckpoint, 0, 0, false},
		{"leading zero", "old 03\n\n" + exampleCheckpoint, 0, 0, false},
		{"no old line", "\n" + exampleCheckpoint, 0, 0, false},
		{"OLD", "OLD 3\n\n" + exampleCheckpoint, 0, 0, false},
		{"short hash", "old 3\n" + h[4:] + "\n" + exampleCheckpoint, 0, 0, false},
		{"no checkpoint", "old 3\n" + h + "\n", 0, 0, false},
		{"no blank line", "old 3\n" + h, 0, 0, false},
		{"too long", "old 3\n\n" + strings.Repeat("a", MaxRequestSize), 0, 0, false},
	}
	for _, tc := range tests {
		old, proof, signed, err := ParseRequest([]byte(tc.body))
		if !tc.ok {
			if !errors.Is(err, tlog.ErrMalformed) {
				t.Errorf("%s: got %v", tc.name, err)
			}
			continue
		}
		if err != nil || old != tc.old || len(proof) != tc.proof || string(signed) != exampleCheckpoint {
			t.Errorf("%s: %d, %d hashes, %v", tc.name, old, len(proof), err)
		}
		if !bytes.Equal(FormatRequest(old, proof, signed), []byte(tc.body)) {
			t.Errorf("%s: re-encodes differently", tc.name)
		}
	}
}

// FuzzParseRequest: whatever parses re-encodes to exactly the input.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("old 0\n\n" + exampleCheckpoint))
	f.Add([]byte("old 3\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\n" + exampleCheckpoint))
	f.Add([]byte("old 3\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		old, proof, signed, err := ParseRequest(b)
		if err == nil && !bytes.Equal(FormatRequest(old, proof, signed), b) {
			t.Fatal("re-encoding differs from the input")
		}
	})
}

func TestCheckCosigLines(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"— w.example/1 AAAA\n", true},
		{"— w.example/1 AAAA\n— w.example/2 BBBB\n", true},
		{"", false},
		{"— w.example/1 AAAA", false},
		{"- w.example/1 AAAA\n", false},
		{"— w.example/1  AAAA\n", false},
		{"— w.example/1 AAAA extra\n", false},
		{strings.Repeat("— w.example/1 AAAA\n", 17), false},
	}
	for _, tc := range tests {
		if err := checkCosigLines([]byte(tc.in)); (err == nil) != tc.ok {
			t.Errorf("%q: %v", tc.in, err)
		}
	}
}

package snapshot

import (
	"bytes"
	"os"
	"testing"
)

// FuzzDecode checks that Decode never panics and that whatever it accepts
// encodes, decodes again and re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"testdata/full.json", "testdata/minimal.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"time":"2024-01-01T00:00:00Z","paths":["/"],"tree":"0900000000000000000000000000000000000000000000000000000000000000","tags":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(b)
		if err != nil {
			return
		}
		enc, err := Encode(s)
		if err != nil {
			t.Fatalf("decoded snapshot does not encode: %v", err)
		}
		s2, err := Decode(enc)
		if err != nil {
			t.Fatalf("encoded snapshot does not decode: %v\n%s", err, enc)
		}
		enc2, err := Encode(s2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %v\n%s\n%s", err, enc, enc2)
		}
	})
}

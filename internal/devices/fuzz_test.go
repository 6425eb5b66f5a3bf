package devices

import (
	"bytes"
	"testing"
)

// FuzzParse parses hostile bytes; whatever parses must re-encode to exactly
// the input, so no two encodings mean the same entry.
func FuzzParse(f *testing.F) {
	entries, _ := standardChain(f)
	for _, b := range entries {
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(b[:60])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Parse(b)
		if err != nil {
			return
		}
		if !bytes.Equal(e.Marshal(), b) {
			t.Fatal("re-encoding differs from the input")
		}
	})
}

// FuzzVerify feeds a hostile entry to Verify, as genesis and after each
// prefix of the standard chain: it must never panic, and whatever it
// accepts must parse and re-encode exactly.
func FuzzVerify(f *testing.F) {
	entries, states := standardChain(f)
	for _, b := range entries {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := Verify(account, [][]byte{b}); err == nil {
			checkCanonical(t, b)
		}
		for _, c := range states {
			if _, err := c.Extend([][]byte{b}); err == nil {
				checkCanonical(t, b)
			}
		}
	})
}

func checkCanonical(t *testing.T, b []byte) {
	e, err := Parse(b)
	if err != nil || !bytes.Equal(e.Marshal(), b) {
		t.Fatalf("accepted an entry that does not re-encode: %v", err)
	}
}

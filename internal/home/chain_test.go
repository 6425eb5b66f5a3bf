package home

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

const testAccount = "00112233445566778899aabbccddeeff"

func TestChainFile(t *testing.T) {
	h := &Home{Dir: t.TempDir()}
	if got, err := h.Chain(testAccount); got != nil || err != nil {
		t.Fatalf("no saved chain: %v, %v", got, err)
	}
	want := [][]byte{[]byte("genesis"), {}, bytes.Repeat([]byte{7}, 300)}
	if err := h.SaveChain(testAccount, want); err != nil {
		t.Fatal(err)
	}
	got, err := h.Chain(testAccount)
	if err != nil || len(got) != len(want) {
		t.Fatalf("read back %d entries, %v", len(got), err)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("entry %d differs", i)
		}
	}
	path := filepath.Join(h.Dir, "chains", testAccount)
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"short length", []byte{0, 0}},
		{"length past the end", []byte{0, 0, 0, 9, 1}},
		{"oversized entry", append([]byte{0, 1, 0, 0}, make([]byte, 1<<16)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, tc.b, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := h.Chain(testAccount); err == nil {
				t.Fatal("a damaged chain file was accepted")
			}
		})
	}
	if _, err := h.Chain("../etc/passwd"); err == nil {
		t.Fatal("a malformed account ID named a file")
	}
}

// FuzzChainFile: whatever parses re-encodes to the same bytes.
func FuzzChainFile(f *testing.F) {
	f.Add(marshalChainFile([][]byte{[]byte("genesis"), []byte("add")}))
	f.Add([]byte{0, 0, 0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := parseChainFile(b)
		if err != nil {
			return
		}
		if !bytes.Equal(marshalChainFile(entries), b) {
			t.Fatal("re-encoding differs")
		}
	})
}

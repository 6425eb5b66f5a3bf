package pack

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"
)

// FuzzReadHeader feeds arbitrary packs to ReadHeader: it must never panic,
// and whatever it accepts must lie within the pack and read back the same.
func FuzzReadHeader(f *testing.F) {
	k := testKeys(f)
	golden, err := os.ReadFile("testdata/v1.pack")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	p, _, _ := k.build(f, numbered(5, 40))
	f.Add(p)
	f.Add(p[:len(p)-1])
	f.Fuzz(func(t *testing.T, p []byte) {
		entries, err := readHeader(k, p)
		if err != nil {
			return
		}
		last := entries[len(entries)-1]
		if uint64(last.Offset)+uint64(last.Length) > uint64(len(p)) {
			t.Fatalf("entries reach beyond a %d-byte pack", len(p))
		}
	})
}

// FuzzDecodeHeader parses arbitrary header plaintexts: whatever decodes
// must re-encode to the same bytes.
func FuzzDecodeHeader(f *testing.F) {
	k := testKeys(f)
	golden, err := os.ReadFile("testdata/v1.pack")
	if err != nil {
		f.Fatal(err)
	}
	hl := int(binary.LittleEndian.Uint32(golden[len(golden)-4:]))
	plain, err := k.o.Open(nil, golden[len(golden)-4-hl:len(golden)-4], headerAD)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain)
	_, entries, _ := k.build(f, numbered(7, 100))
	f.Add(appendHeader(nil, entries, 0))
	f.Add(appendHeader(nil, entries, 3))
	f.Fuzz(func(t *testing.T, plain []byte) {
		entries, pad, err := decodeHeader(plain)
		if err != nil {
			return
		}
		if re := appendHeader(nil, entries, pad); !bytes.Equal(re, plain) {
			t.Fatalf("re-encoded header differs:\n%x\n%x", re, plain)
		}
	})
}

package crypt

import (
	"bytes"
	"crypto/sha256"
	"sync"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
)

// TestDerivedKeysDistinct checks that no two working keys coincide with
// each other or with the root key, and that another root gives other keys.
func TestDerivedKeysDistinct(t *testing.T) {
	roots := []Key{{}, {1}, testMaster}
	seen := make(map[Key]bool)
	for _, r := range roots {
		seen[r] = true
	}
	for _, r := range roots {
		k, err := DeriveKeys(&r)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []Key{k.Data, k.ID, k.Gear} {
			if seen[x] {
				t.Fatalf("root %x: derived key %x repeats", r[:4], x[:4])
			}
			seen[x] = true
		}
		k.Zero()
		if k.Data != (Key{}) || k.ID != (Key{}) || k.Gear != (Key{}) {
			t.Fatal("Keys.Zero left key material")
		}
	}
}

func TestKeyEqual(t *testing.T) {
	a, b := Key{1, 2}, Key{1, 2}
	if !a.Equal(&b) {
		t.Fatal("equal keys differ")
	}
	b[31] = 1
	if a.Equal(&b) {
		t.Fatal("different keys are equal")
	}
	a.Zero()
	if a != (Key{}) {
		t.Fatal("Zero left bytes")
	}
}

// TestHasherSeparatesTypes checks that the type byte is hashed: the same
// plaintext as a data and as a tree blob gets two IDs; and that the ID
// depends on the key.
func TestHasherSeparatesTypes(t *testing.T) {
	h := NewHasher(&testMaster)
	pt := []byte("same bytes")
	d, tr := h.Sum(blob.Data, pt), h.Sum(blob.Tree, pt)
	if d == tr {
		t.Fatal("data and tree blob of the same plaintext share an ID")
	}
	if NewHasher(&Key{}).Sum(blob.Data, pt) == d {
		t.Fatal("ID does not depend on the key")
	}
}

// TestHasherConcurrent computes IDs from many goroutines and compares them
// with sequential results.
func TestHasherConcurrent(t *testing.T) {
	h := NewHasher(&testMaster)
	want := make([]blob.ID, 64)
	for i := range want {
		want[i] = h.Sum(blob.Data, bytes.Repeat([]byte{byte(i)}, i))
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				for i := range want {
					if got := h.Sum(blob.Data, bytes.Repeat([]byte{byte(i)}, i)); got != want[i] {
						t.Errorf("blob %d: concurrent ID %s, want %s", i, got, want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestContentID(t *testing.T) {
	b := []byte("stored bytes")
	if ContentID(b) != sha256.Sum256(b) {
		t.Fatal("ContentID is not SHA-256")
	}
}

// TestLabels pins every associated-data label of docs/format.md §2.2.
func TestLabels(t *testing.T) {
	for got, want := range map[string]string{
		ADBlobData: "coffer v1 blob data", ADBlobTree: "coffer v1 blob tree",
		ADPackHeader: "coffer v1 pack header", ADIndex: "coffer v1 index",
		ADSnapshot: "coffer v1 snapshot", ADSession: "coffer v1 session",
		ADPrune: "coffer v1 prune plan", ADConfig: "coffer v1 config",
	} {
		if got != want {
			t.Errorf("label %q, want %q", got, want)
		}
	}
}

func TestAD(t *testing.T) {
	for _, c := range []struct {
		label string
		id    []byte
		want  string
	}{
		{ADIndex, nil, "coffer v1 index\x00"},
		{ADConfig, nil, "coffer v1 config\x00"},
		{ADBlobTree, []byte{1, 2}, "coffer v1 blob tree\x00\x01\x02"},
		{"", nil, "\x00"},
	} {
		if got := AD(c.label, c.id); string(got) != c.want {
			t.Errorf("AD(%q, %x) = %q, want %q", c.label, c.id, got, c.want)
		}
	}
}

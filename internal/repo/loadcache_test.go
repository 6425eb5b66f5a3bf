package repo

import (
	"bytes"
	"errors"
	"testing"
)

// TestLoadCache: a kept key is read once; the least recently used keys go
// once the bytes exceed the bound, never the one just read; a failure is
// kept or read again as keepErr says.
func TestLoadCache(t *testing.T) {
	errKept, errRetried := errors.New("kept"), errors.New("retried")
	c := newLoadCache[int](10, func(err error) bool { return err == errKept })
	reads := map[int]int{}
	get := func(k int, data []byte, err error) ([]byte, error) {
		return c.get(k, func() ([]byte, error) { reads[k]++; return data, err })
	}
	for _, tc := range []struct {
		key   int
		data  []byte
		err   error
		reads int // of key, after this get
	}{
		{1, []byte("aaaa"), nil, 1},
		{1, nil, nil, 1},                           // kept
		{2, []byte("bbbb"), nil, 1},                // 8 bytes kept
		{1, nil, nil, 1},                           // 1 is now the most recent
		{3, []byte("cccc"), nil, 1},                // 12 bytes: 2 goes
		{2, []byte("bbbb"), nil, 2},                // read again; 1 goes
		{1, []byte("aaaa"), nil, 2},                // read again
		{4, nil, errKept, 1},                       // failure kept
		{4, nil, nil, 1},                           // not read again
		{5, nil, errRetried, 1},                    // failure dropped
		{5, []byte("e"), nil, 2},                   // read again
		{6, bytes.Repeat([]byte("f"), 20), nil, 1}, // over the bound alone: kept, the rest go
		{6, nil, nil, 1},
	} {
		got, err := get(tc.key, tc.data, tc.err)
		if reads[tc.key] != tc.reads {
			t.Fatalf("key %d: read %d times, want %d", tc.key, reads[tc.key], tc.reads)
		}
		if tc.data != nil && !bytes.Equal(got, tc.data) || tc.err != nil && err != tc.err {
			t.Fatalf("key %d: got %q, %v", tc.key, got, err)
		}
	}
	if c.lru.Len() != 1 || c.size != 20 {
		t.Errorf("%d entries of %d bytes left, want the one of 20", c.lru.Len(), c.size)
	}
}

package repo

import (
	"bytes"
	"io"
	"testing"
)

func TestPartsReaderSeekAndRead(t *testing.T) {
	parts := [][]byte{[]byte("abc"), {}, []byte("d"), []byte("efgh"), {}}
	whole := bytes.Join(parts, nil)
	r := newPartsReader(parts)
	if r.Size() != int64(len(whole)) {
		t.Fatalf("size %d, want %d", r.Size(), len(whole))
	}
	for off := 0; off <= len(whole); off++ {
		for _, bufSize := range []int{1, 2, 5, 100} {
			if _, err := r.Seek(int64(off), io.SeekStart); err != nil {
				t.Fatal(err)
			}
			var got []byte
			buf := make([]byte, bufSize)
			for {
				n, err := r.Read(buf)
				got = append(got, buf[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, whole[off:]) {
				t.Fatalf("from %d with buffer %d: got %q, want %q", off, bufSize, got, whole[off:])
			}
		}
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("seek before the start accepted")
	}
	if _, err := r.Seek(1, io.SeekEnd); err == nil {
		t.Fatal("seek past the end accepted")
	}
}

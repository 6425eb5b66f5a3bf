package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestCopyExact(t *testing.T) {
	broke := errors.New("broke")
	tests := []struct {
		name string
		r    io.Reader
		ok   bool
	}{
		{"exact", strings.NewReader("payload"), true},
		{"exact, data with EOF", iotest.DataErrReader(strings.NewReader("payload")), true},
		{"short", strings.NewReader("pay"), false},
		{"long", strings.NewReader("payload+"), false},
		{"fails after the last byte", io.MultiReader(strings.NewReader("payload"), iotest.ErrReader(broke)), false},
		{"fails with the last byte", &lastErrReader{data: "payload", err: broke}, false},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader("payload")), true},
	}
	for _, tc := range tests {
		var w bytes.Buffer
		err := CopyExact(context.Background(), &w, tc.r, 7)
		if (err == nil) != tc.ok || (tc.ok && w.String() != "payload") {
			t.Errorf("%s: copied %q, %v", tc.name, w.String(), err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := CopyExact(ctx, io.Discard, strings.NewReader("payload"), 7); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// lastErrReader returns its data in one read, together with err.
type lastErrReader struct {
	data string
	err  error
}

func (r *lastErrReader) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, r.err
}

// writeCounter counts the writes it gets and the bytes in them.
type writeCounter struct{ writes, bytes int }

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes++
	w.bytes += len(p)
	return len(p), nil
}

// TestCopyExactChunks checks that a large copy, even from a reader that
// yields little per read, goes out in writes of copyChunk bytes.
func TestCopyExactChunks(t *testing.T) {
	size := 2*copyChunk + 5
	var w writeCounter
	r := iotest.HalfReader(bytes.NewReader(make([]byte, size)))
	if err := CopyExact(context.Background(), &w, r, int64(size)); err != nil {
		t.Fatal(err)
	}
	if w.writes != 3 || w.bytes != size {
		t.Errorf("%d bytes in %d writes, want %d in 3", w.bytes, w.writes, size)
	}
	if err := CopyExact(context.Background(), &w, bytes.NewReader(make([]byte, size-1)), int64(size)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("one byte short of %d: %v", size, err)
	}
}

func TestRangeReader(t *testing.T) {
	read := func(ctx context.Context, data string, n int64) (string, error) {
		b, err := io.ReadAll(RangeReader(ctx, strings.NewReader(data), io.NopCloser(nil), "packs/x", n))
		return string(b), err
	}
	if got, err := read(context.Background(), "payload", 3); got != "pay" || err != nil {
		t.Errorf("3 of 7 bytes: %q, %v", got, err)
	}
	if got, err := read(context.Background(), "pay", 7); got != "pay" || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "packs/x") {
		t.Errorf("7 of 3 bytes: %q, %v", got, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := read(ctx, "payload", 7); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestCheckOp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	if err := CheckOp(ctx, "get", Packs, "ab"); err != nil {
		t.Errorf("valid call: %v", err)
	}
	if err := CheckOp(ctx, "get", Packs, "../x"); err == nil {
		t.Error("bad name accepted")
	}
	cancel()
	if err := CheckOp(ctx, "get", Packs, "ab"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestHTTPRange(t *testing.T) {
	if got := HTTPRange(5, 10); got != "bytes=5-14" {
		t.Errorf("HTTPRange(5, 10) = %q", got)
	}
	if got := HTTPRange(5, -1); got != "bytes=5-" {
		t.Errorf("HTTPRange(5, -1) = %q", got)
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

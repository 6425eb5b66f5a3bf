package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

var errReader = errors.New("reader broke")

// drain reads b as the transport would, in small pieces, and returns the
// bytes it delivered and the error that ended it.
func drain(b io.Reader) ([]byte, error) {
	var got []byte
	p := make([]byte, 7)
	for {
		n, err := b.Read(p)
		got = append(got, p[:n]...)
		if err != nil {
			return got, err
		}
	}
}

func TestBody(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 10)
	tests := []struct {
		name      string
		r         io.Reader
		size      int64
		whole     bool  // all size bytes are delivered, then io.EOF
		wantIs    error // else the error must wrap this, if set
		wantShort bool  // else fewer than size bytes reach the transport
	}{
		{"exact", bytes.NewReader(data), 100, true, nil, false},
		{"exact, one byte a read", iotest.OneByteReader(bytes.NewReader(data)), 100, true, nil, false},
		{"exact, data with EOF", iotest.DataErrReader(bytes.NewReader(data)), 100, true, nil, false},
		{"one byte long", bytes.NewReader(append(data, 'x')), 100, false, nil, true},
		{"one byte short", bytes.NewReader(data[:99]), 100, false, io.ErrUnexpectedEOF, true},
		{"fails midway", io.MultiReader(bytes.NewReader(data[:50]), iotest.ErrReader(errReader)), 100, false, errReader, true},
		{"fails after the last byte", io.MultiReader(bytes.NewReader(data), iotest.ErrReader(errReader)), 100, false, errReader, true},
		{"fails at once", iotest.ErrReader(errReader), 100, false, errReader, true},
	}
	for _, tc := range tests {
		b := &body{ctx: context.Background(), r: tc.r, left: tc.size}
		got, err := drain(b)
		if tc.whole {
			if err != io.EOF || !bytes.Equal(got, data[:tc.size]) || b.failure() != nil {
				t.Errorf("%s: got %d bytes, %v", tc.name, len(got), err)
			}
			continue
		}
		if err == io.EOF || int64(len(got)) >= tc.size || (tc.wantIs != nil && !errors.Is(err, tc.wantIs)) {
			t.Errorf("%s: delivered %d of %d bytes, then %v", tc.name, len(got), tc.size, err)
		}
		if b.failure() != err {
			t.Errorf("%s: failure() = %v, want %v", tc.name, b.failure(), err)
		}
		if _, again := b.Read(make([]byte, 1)); again != err {
			t.Errorf("%s: read after failure: %v", tc.name, again)
		}
	}
}

// cancelling reads r and cancels its context during the read that reaches
// byte at, recording how many bytes it had delivered before that read.
type cancelling struct {
	r      io.Reader
	at     int
	read   int
	before int
	cancel context.CancelFunc
}

func (c *cancelling) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.read < c.at && c.read+n >= c.at {
		c.before = c.read
		c.cancel()
	}
	c.read += n
	return n, err
}

// TestBodyCancelled checks that a body delivers none of the bytes read
// from the moment its context is cancelled, even those of the read that
// cancelled it, so that a Put cancelled before its last read never sends
// the whole object.
func TestBodyCancelled(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 10)
	for _, at := range []int{1, 50, 99, 100} {
		ctx, cancel := context.WithCancel(context.Background())
		r := &cancelling{r: bytes.NewReader(data), at: at, cancel: cancel}
		b := &body{ctx: ctx, r: r, left: 100}
		got, err := drain(b)
		if !errors.Is(err, context.Canceled) || len(got) != r.before || b.failure() != err {
			t.Errorf("cancelled at byte %d: delivered %d bytes (%d read before), then %v; failure() = %v",
				at, len(got), r.before, err, b.failure())
		}
		cancel()
	}
}

func TestBodyDetached(t *testing.T) {
	r := strings.NewReader("abcdef")
	b := &body{ctx: context.Background(), r: r, left: 6}
	if n, err := b.Read(make([]byte, 2)); n != 2 || err != nil {
		t.Fatalf("Read: %d, %v", n, err)
	}
	b.detach()
	if _, err := b.Read(make([]byte, 2)); !errors.Is(err, errDetached) {
		t.Errorf("Read after detach: %v", err)
	}
	if r.Len() != 4 {
		t.Errorf("the reader was read after detach: %d bytes left", r.Len())
	}
}

func TestNewUpload(t *testing.T) {
	tests := []struct {
		name string
		r    io.Reader
		size int64
		ok   bool
	}{
		{"empty", strings.NewReader(""), 0, true},
		{"empty but size 1", strings.NewReader(""), 1, true}, // found out while sending
		{"one byte but size 0", strings.NewReader("x"), 0, false},
		{"failing, size 0", iotest.ErrReader(errReader), 0, false},
		{"negative size", strings.NewReader(""), -1, false},
	}
	for _, tc := range tests {
		if _, err := newUpload(context.Background(), tc.r, tc.size); (err == nil) != tc.ok {
			t.Errorf("%s: got %v", tc.name, err)
		}
	}
}

// TestUploadRewinds checks that every try sends the same bytes from where
// the reader stood, and that a reader that cannot seek is not resent.
func TestUploadRewinds(t *testing.T) {
	r := strings.NewReader("skip|payload")
	r.Seek(5, io.SeekStart)
	u, err := newUpload(context.Background(), r, 7)
	if err != nil {
		t.Fatal(err)
	}
	for try := 1; try <= 3; try++ {
		b, n, err := u.open(try)
		if err != nil || n != 7 {
			t.Fatalf("try %d: %d, %v", try, n, err)
		}
		got, err := drain(b)
		if string(got) != "payload" || err != io.EOF {
			t.Errorf("try %d: got %q, %v", try, got, err)
		}
	}
	once, err := newUpload(context.Background(), io.MultiReader(strings.NewReader("payload")), 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := once.open(1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := once.open(2); err == nil {
		t.Error("a reader that cannot seek was opened for a second try")
	}
}

package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
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
		b := &Body{ctx: context.Background(), r: tc.r, left: tc.size}
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
		b := &Body{ctx: ctx, r: r, left: 100}
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
	b := &Body{ctx: context.Background(), r: r, left: 6}
	if n, err := b.Read(make([]byte, 2)); n != 2 || err != nil {
		t.Fatalf("Read: %d, %v", n, err)
	}
	b.detach()
	if _, err := b.Read(make([]byte, 2)); !errors.Is(err, ErrDetached) {
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
		if _, err := New(context.Background(), tc.r, tc.size); (err == nil) != tc.ok {
			t.Errorf("%s: got %v", tc.name, err)
		}
	}
}

// TestUploadRewinds checks that every try sends the same bytes from where
// the reader stood, and that a reader that cannot seek is not resent.
func TestUploadRewinds(t *testing.T) {
	r := strings.NewReader("skip|payload")
	r.Seek(5, io.SeekStart)
	u, err := New(context.Background(), r, 7)
	if err != nil {
		t.Fatal(err)
	}
	for try := 1; try <= 3; try++ {
		if try > 1 {
			if err := u.Rewind(); err != nil {
				t.Fatalf("try %d: %v", try, err)
			}
		}
		got, err := drain(u.Body())
		if string(got) != "payload" || err != io.EOF {
			t.Errorf("try %d: got %q, %v", try, got, err)
		}
	}
	once, err := New(context.Background(), io.MultiReader(strings.NewReader("payload")), 7)
	if err != nil {
		t.Fatal(err)
	}
	if once.Rewindable() || once.Rewind() == nil {
		t.Error("a reader that cannot seek was rewound for a second try")
	}
}

func TestSHA256(t *testing.T) {
	data := "payload"
	want := sha256.Sum256([]byte(data))
	tests := []struct {
		name   string
		r      io.Reader
		max    int64
		sum    bool // a sum is expected
		seeker bool // the upload can be rewound afterwards
	}{
		{"seekable", strings.NewReader(data), 0, true, true},
		{"buffered", io.MultiReader(strings.NewReader(data)), 7, true, true},
		{"too large to buffer", io.MultiReader(strings.NewReader(data)), 6, false, false},
	}
	for _, tc := range tests {
		u, err := New(context.Background(), tc.r, 7)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := u.SHA256(tc.max)
		if err != nil || (sum != nil) != tc.sum || (tc.sum && !bytes.Equal(sum, want[:])) || u.Rewindable() != tc.seeker {
			t.Errorf("%s: sum %x, %v, rewindable %v", tc.name, sum, err, u.Rewindable())
		}
		if got, err := drain(u.Body()); string(got) != data || err != io.EOF {
			t.Errorf("%s: then sent %q, %v", tc.name, got, err)
		}
	}
}

func TestSHA256Refuses(t *testing.T) {
	readers := func() []io.Reader {
		return []io.Reader{strings.NewReader("payload+"), strings.NewReader("pay"), iotest.ErrReader(errReader)}
	}
	for _, seekable := range []bool{true, false} {
		for i, r := range readers() {
			if !seekable {
				r = io.MultiReader(r)
			}
			u, err := New(context.Background(), r, 7)
			if err != nil {
				t.Fatal(err)
			}
			if sum, err := u.SHA256(100); err == nil {
				t.Errorf("reader %d (seekable %v): sum %x of a reader that is not 7 bytes", i, seekable, sum)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	u, err := New(ctx, strings.NewReader("payload"), 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.SHA256(0); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestMatches(t *testing.T) {
	open := func(s string) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
	}
	r := strings.NewReader("skip|payload")
	r.Seek(5, io.SeekStart)
	u, err := New(context.Background(), r, 7)
	if err != nil {
		t.Fatal(err)
	}
	drain(u.Body())
	if !u.Matches(open("payload")) {
		t.Error("the same bytes do not match")
	}
	for _, other := range []string{"", "payloa", "payload+", "Payload"} {
		if u.Matches(open(other)) {
			t.Errorf("%q matches %q", other, "payload")
		}
	}
	if u.Matches(func() (io.ReadCloser, error) { return nil, errReader }) {
		t.Error("an object that cannot be read matches")
	}
	once, _ := New(context.Background(), io.MultiReader(strings.NewReader("payload")), 7)
	if once.Matches(open("payload")) {
		t.Error("a reader that cannot be read again matches")
	}
}

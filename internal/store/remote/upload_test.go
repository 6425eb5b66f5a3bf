package remote

import (
	"bytes"
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
		b := &body{r: tc.r, left: tc.size}
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

func TestBodyDetached(t *testing.T) {
	r := strings.NewReader("abcdef")
	b := &body{r: r, left: 6}
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
		if _, err := newUpload(tc.r, tc.size); (err == nil) != tc.ok {
			t.Errorf("%s: got %v", tc.name, err)
		}
	}
}

// TestUploadRewinds checks that every try sends the same bytes from where
// the reader stood, and that a reader that cannot seek is not resent.
func TestUploadRewinds(t *testing.T) {
	r := strings.NewReader("skip|payload")
	r.Seek(5, io.SeekStart)
	u, err := newUpload(r, 7)
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
	once, err := newUpload(io.MultiReader(strings.NewReader("payload")), 7)
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

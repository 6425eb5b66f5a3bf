package filelock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestTryLock checks the conflicts between two opens of one file: shared
// locks coexist, an exclusive one excludes both kinds, and closing
// releases.
func TestTryLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	a, b := open(), open()
	defer b.Close()
	for _, c := range []struct {
		name       string
		f          *os.File
		exclusive  bool
		wantLocked bool
	}{
		{"first shared", a, false, false},
		{"second shared", b, false, false},
	} {
		if err := TryLock(c.f, c.exclusive); (err != nil) != c.wantLocked {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	a.Close()
	b.Close()
	a, b = open(), open()
	defer a.Close()
	if err := TryLock(a, true); err != nil {
		t.Fatalf("exclusive: %v", err)
	}
	for _, exclusive := range []bool{false, true} {
		if err := TryLock(b, exclusive); !errors.Is(err, ErrLocked) {
			t.Errorf("lock (exclusive %v) while another holds it exclusively: %v, want ErrLocked", exclusive, err)
		}
	}
	a.Close()
	if err := TryLock(b, true); err != nil {
		t.Errorf("exclusive after the holder closed: %v", err)
	}
}

package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteAndCreate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for _, tc := range []struct {
		name  string
		write func(string, []byte, os.FileMode) error
		data  string
		perm  os.FileMode
		want  string // content afterwards
		err   error
	}{
		{"create", Create, "one", 0o600, "one", nil},
		{"create refuses to replace", Create, "two", 0o600, "one", fs.ErrExist},
		{"write replaces", Write, "three", 0o644, "three", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.write(p, []byte(tc.data), tc.perm)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			b, rerr := os.ReadFile(p)
			if rerr != nil || string(b) != tc.want {
				t.Fatalf("content %q (%v), want %q", b, rerr, tc.want)
			}
			if fi, _ := os.Stat(p); tc.err == nil && fi.Mode().Perm() != tc.perm {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), tc.perm)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d files left in the directory, want 1 (no temporary files)", len(entries))
	}
	if err := Write(filepath.Join(dir, "missing", "f"), nil, 0o600); err == nil {
		t.Error("wrote into a missing directory")
	}
}

// TestWriteUnchanged: writing what a file already holds leaves the file
// itself in place (no new inode), while any change replaces it.
func TestWriteUnchanged(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state")
	if err := Write(p, []byte("same"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(p)
	if err := Write(p, []byte("same"), 0o600); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(p); !os.SameFile(before, after) {
		t.Error("an unchanged write replaced the file")
	}
	for _, tc := range []struct {
		name string
		data string
		perm os.FileMode
	}{
		{"other content", "diff", 0o600},
		{"other mode", "diff", 0o644},
		{"longer", "different", 0o644},
	} {
		before, _ := os.Stat(p)
		if err := Write(p, []byte(tc.data), tc.perm); err != nil {
			t.Fatal(err)
		}
		after, _ := os.Stat(p)
		if os.SameFile(before, after) {
			t.Errorf("%s: the file was not replaced", tc.name)
		}
	}
}

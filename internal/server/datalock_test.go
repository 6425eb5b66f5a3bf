package server

import (
	"errors"
	"testing"
)

// TestDataLock checks that a server refuses to start while coffer serve
// migrate holds the data directory, that migrate cannot take it from a
// running server, and that two servers share it.
func TestDataLock(t *testing.T) {
	dir := t.TempDir()
	unlock, err := LockData(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Data: dir, InsecureHTTP: true}); !errors.Is(err, ErrDataInUse) {
		t.Fatalf("server started during a migration: %v", err)
	}
	unlock()
	s1, err := New(Config{Data: dir, InsecureHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := New(Config{Data: dir, InsecureHTTP: true})
	if err != nil {
		t.Fatalf("a second server on the directory: %v", err)
	}
	defer s2.Close()
	if _, err := LockData(dir, true); !errors.Is(err, ErrDataInUse) {
		t.Fatalf("migrate took the directory of a running server: %v", err)
	}
}

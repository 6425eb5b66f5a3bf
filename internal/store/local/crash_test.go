package local

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/store"
)

// The crash tests re-run this test binary as a writer process, which they
// SIGKILL. These variables tell the child what to do.
const (
	envCrashDir  = "COFFER_LOCAL_CRASH_DIR"
	envCrashMode = "COFFER_LOCAL_CRASH_MODE"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envCrashDir); dir != "" {
		if err := crashChild(dir, os.Getenv(envCrashMode)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// randomBytes returns n pseudo-random bytes determined by seed.
func randomBytes(seed uint64, n int) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b) // never fails
	return b
}

// putHashed stores data as a pack named by its SHA-256, unless a previous
// writer already did.
func putHashed(s *Store, data []byte) error {
	sum := sha256.Sum256(data)
	err := s.Put(context.Background(), store.Packs, hex.EncodeToString(sum[:]), bytes.NewReader(data), int64(len(data)))
	if errors.Is(err, store.ErrExists) {
		return nil
	}
	return err
}

// stallingReader delivers limit bytes, announces "midway" and then blocks
// forever, leaving a Put stuck in the middle.
type stallingReader struct {
	r     io.Reader
	limit int64
}

func (s *stallingReader) Read(p []byte) (int, error) {
	if s.limit <= 0 {
		fmt.Println("midway")
		select {}
	}
	n, err := s.r.Read(p[:min(int64(len(p)), s.limit)])
	s.limit -= int64(n)
	return n, err
}

// crashChild is the writer process. Mode "midway" stores one pack, then
// stalls halfway through a 16 MiB one; mode "loop" stores packs until killed.
// It prints "ready" once a first pack is stored.
func crashChild(dir, mode string) error {
	s, err := Open(dir)
	if err != nil {
		return err
	}
	if err := putHashed(s, randomBytes(0, 1<<20)); err != nil {
		return err
	}
	fmt.Println("ready")
	if mode == "midway" {
		big := randomBytes(1, 16<<20)
		r := &stallingReader{r: bytes.NewReader(big), limit: 8 << 20}
		return s.Put(context.Background(), store.Packs, "stalled", r, int64(len(big)))
	}
	for i := uint64(2); ; i++ {
		if err := putHashed(s, randomBytes(i, 64<<10+int(i%7)*100_000)); err != nil {
			return err
		}
	}
}

// killChild starts a writer on dir, waits for the line want and for delay,
// and SIGKILLs it.
func killChild(t *testing.T, dir, mode, want string, delay time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashMode+"="+mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }() // killed: its exit status says so
	defer func() { _ = cmd.Process.Kill() }()
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != want {
	}
	if sc.Text() != want {
		t.Fatalf("writer ended without printing %q", want)
	}
	time.Sleep(delay)
}

// checkPacks opens dir and checks that every listed pack is complete: its
// bytes hash to its name. It returns how many there are.
func checkPacks(t *testing.T, dir string) int {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = s.List(context.Background(), store.Packs, func(oi store.ObjectInfo) error {
		n++
		b, err := store.ReadAll(context.Background(), s, store.Packs, oi.Name, 64<<20)
		if err != nil {
			return err
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != oi.Name || int64(len(b)) != oi.Size {
			return fmt.Errorf("pack %s is not complete: %d bytes, listed with %d", oi.Name, len(b), oi.Size)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCrashMidway kills a writer halfway through a large Put: the partial
// object must be invisible, its temp file kept while fresh and swept once
// old, and its name still free.
func TestCrashMidway(t *testing.T) {
	s := newStore(t)
	killChild(t, s.dir, "midway", "midway", 0)
	if n := checkPacks(t, s.dir); n != 1 {
		t.Errorf("listed %d packs, want only the complete one", n)
	}
	temps, err := filepath.Glob(filepath.Join(s.dir, tmpDir, "*"))
	if err != nil || len(temps) != 1 {
		t.Fatalf("temp files after the crash: %v, %v; want the partial one", temps, err)
	}
	if fi, err := os.Stat(temps[0]); err != nil || fi.Size() < 8<<20 {
		t.Fatalf("partial temp file: %v, %v; want at least 8 MiB", fi, err)
	}
	old := time.Now().Add(-2 * tempMaxAge)
	if err := os.Chtimes(temps[0], old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(s.dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(temps[0]); err == nil {
		t.Error("Open kept a day-old temp file")
	}
	if err := s.Put(context.Background(), store.Packs, "stalled", bytes.NewReader([]byte("x")), 1); err != nil {
		t.Errorf("the crashed Put's name is not free: %v", err)
	}
}

// TestCrashLoop kills a writer storing packs in a loop at arbitrary moments:
// every listed pack must be complete.
func TestCrashLoop(t *testing.T) {
	s := newStore(t)
	total := 0
	for round := range 4 {
		killChild(t, s.dir, "loop", "ready", time.Duration(round*15)*time.Millisecond)
		total = checkPacks(t, s.dir)
	}
	if total < 2 {
		t.Errorf("only %d packs stored; the writer did not get going", total)
	}
}

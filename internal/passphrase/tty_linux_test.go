package passphrase

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal and returns its controlling side and the
// path of its terminal side.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking pty: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// waitEchoOff waits until the terminal stops echoing: the prompt is shown
// just before echo is turned off, and a user types only after that.
func waitEchoOff(t *testing.T, m *os.File) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		tio, err := unix.IoctlGetTermios(int(m.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatalf("reading terminal settings: %v", err)
		}
		if tio.Lflag&unix.ECHO == 0 {
			return
		}
	}
	t.Fatal("echo was never turned off")
}

func TestTerminal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		confirm bool
		typed   string
		want    string
		err     error
		prompts int
	}{
		{"once", false, "typed secret\n", "typed secret", nil, 1},
		{"confirmed", true, "typed secret\ntyped secret\n", "typed secret", nil, 2},
		{"mismatch", true, "typed secret\ntyped secreT\n", "", ErrMismatch, 2},
		{"empty", true, "\n", "", ErrEmpty, 1},
		{"terminal closed", false, "", "", ErrUnavailable, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unsetEnv(t)
			m, tty := openPTY(t)
			type result struct {
				p   []byte
				err error
			}
			done := make(chan result)
			go func() {
				p, err := get("", "Passphrase: ", tc.confirm, tty)
				done <- result{p, err}
			}()
			// Type each line only after its prompt shows, as a user would.
			var shown strings.Builder
			lines := strings.SplitAfter(tc.typed, "\n")
			buf := make([]byte, 256)
			for i := 0; i < tc.prompts; i++ {
				for strings.Count(shown.String(), ": ") <= i {
					n, err := m.Read(buf)
					if err != nil {
						t.Fatalf("reading terminal output: %v", err)
					}
					shown.Write(buf[:n])
				}
				waitEchoOff(t, m)
				if lines[i] == "" {
					m.Close() // hang up
					break
				}
				io.WriteString(m, lines[i])
			}
			r := <-done
			if !errors.Is(r.err, tc.err) || string(r.p) != tc.want {
				t.Fatalf("got %q, %v; want %q, %v", r.p, r.err, tc.want, tc.err)
			}
			if r.err != nil && strings.Contains(r.err.Error(), "secret") {
				t.Fatalf("error %q shows what was typed", r.err)
			}
			out := shown.String()
			if strings.Contains(out, "secret") {
				t.Fatalf("typed passphrase was echoed: %q", out)
			}
			if !strings.HasPrefix(out, "Passphrase: ") || tc.prompts == 2 && !strings.Contains(out, "Repeat passphrase: ") {
				t.Fatalf("terminal showed %q", out)
			}
		})
	}
}

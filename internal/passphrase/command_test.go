package passphrase

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestCommand runs real commands with sh -c: the first line of their
// output is the passphrase; a failure names how the command ended and never
// shows what it printed.
func TestCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the cases are sh scripts")
	}
	long := filepath.Join(t.TempDir(), "long")
	if err := os.WriteFile(long, []byte(strings.Repeat("x", MaxFileSize+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, command, want string
		err                 error
		says                string
	}{
		{"first line", "printf 'secret\\nother\\n'", "secret", nil, ""},
		{"no newline", "printf secret", "secret", nil, ""},
		{"crlf", "printf 'secret\\r\\n'", "secret", nil, ""},
		{"spaces kept", "echo ' se cret '", " se cret ", nil, ""},
		{"shell syntax", "x=sec; echo \"${x}ret\" | cat", "secret", nil, ""},
		{"largest line", "head -c " + strconv.Itoa(MaxFileSize) + " " + long + "; printf '\\r\\n'", strings.Repeat("x", MaxFileSize), nil, ""},
		{"empty", "true", "", ErrEmpty, ""},
		{"empty line", "printf '\\nsecret\\n'", "", ErrEmpty, ""},
		{"exit status", "echo topsecret; exit 3", "", ErrCommand, "exited with exit status 3"},
		{"signal", "echo topsecret; kill -9 $$", "", ErrCommand, "signal: killed"},
		{"not found", "no-such-command-coffer", "", ErrCommand, "exit status 127"},
		{"line too long", "cat " + long, "", ErrCommand, "longer than 4096 bytes"},
		{"too much", "echo topsecret; cat " + long + "; echo", "", ErrCommand, "printed more than 4098 bytes"},
		{"endless", "yes topsecret", "", ErrCommand, "printed more than 4098 bytes"},
		{"left running", "echo secret; sleep 5 &", "", ErrCommand, "could not run: exec: WaitDelay expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unsetEnv(t)
			t.Setenv(CommandEnvVar, tc.command)
			p, err := get("", "", false, "")
			if !errors.Is(err, tc.err) || string(p) != tc.want {
				t.Fatalf("got %q, %v; want %q, %v", p, err, tc.want, tc.err)
			}
			if err == nil {
				return
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.says) || !strings.Contains(msg, "$"+CommandEnvVar) {
				t.Errorf("error %q does not name the source and %q", msg, tc.says)
			}
			if strings.Contains(msg, "topsecret") || strings.Contains(msg, "xxxx") || tc.command != "true" && strings.Contains(msg, tc.command) {
				t.Errorf("error %q shows the command or its output", msg)
			}
		})
	}
}

// TestPrecedence: the caller's command, then $COFFER_PASSPHRASE, then
// its _FILE, then $COFFER_PASSPHRASE_COMMAND, then the terminal.
func TestPrecedence(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the commands are sh scripts")
	}
	file := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(file, []byte("from file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noTTY := filepath.Join(t.TempDir(), "no tty")
	for _, tc := range []struct {
		name, flag, env, fileEnv, commandEnv, want, source string
	}{
		{"flag first", "echo from flag", "from env", file, "echo from env command", "from flag", CommandFlag},
		{"then the variable", "", "from env", file, "echo from env command", "from env", EnvVar},
		{"then the file", "", "-", file, "echo from env command", "from file", FileEnvVar},
		{"then the command", "", "-", "-", "echo from env command", "from env command", CommandEnvVar},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unsetEnv(t)
			for v, val := range map[string]string{EnvVar: tc.env, FileEnvVar: tc.fileEnv, CommandEnvVar: tc.commandEnv} {
				if val != "-" {
					t.Setenv(v, val)
				}
			}
			p, err := get(tc.flag, "", false, noTTY)
			if err != nil || string(p) != tc.want {
				t.Fatalf("got %q, %v; want %q", p, err, tc.want)
			}
			if got := Source(tc.flag); got != tc.source {
				t.Errorf("Source says %q, want %q", got, tc.source)
			}
		})
	}
	unsetEnv(t)
	if _, err := get("", "", false, noTTY); !errors.Is(err, ErrUnavailable) || Source("") != "" {
		t.Fatalf("with nothing set: %v, source %q", err, Source(""))
	}
}

package passphrase

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unsetEnv clears both variables for the test and restores them after.
func unsetEnv(t *testing.T) {
	for _, v := range []string{EnvVar, FileEnvVar, CommandEnvVar} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
}

func TestEnvironment(t *testing.T) {
	unsetEnv(t)
	t.Setenv(EnvVar, "from env")
	t.Setenv(FileEnvVar, filepath.Join(t.TempDir(), "never read"))
	p, err := get("", "unused: ", true, filepath.Join(t.TempDir(), "no tty"))
	if err != nil || string(p) != "from env" {
		t.Fatalf("got %q, %v; want the variable's value", p, err)
	}
	t.Setenv(EnvVar, "")
	if _, err := get("", "", false, ""); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty %s: got %v, want ErrEmpty", EnvVar, err)
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
		err                 error
	}{
		{"plain", "secret", "secret", nil},
		{"newline", "secret\n", "secret", nil},
		{"crlf", "secret\r\n", "secret", nil},
		{"one newline only", "secret\n\n", "secret\n", nil},
		{"inner spaces kept", " se cret \n", " se cret ", nil},
		{"largest", strings.Repeat("x", MaxFileSize), strings.Repeat("x", MaxFileSize), nil},
		{"empty", "", "", ErrEmpty},
		{"only newline", "\n", "", ErrEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unsetEnv(t)
			name := filepath.Join(dir, tc.name)
			if err := os.WriteFile(name, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv(FileEnvVar, name)
			p, err := get("", "", false, "")
			if !errors.Is(err, tc.err) || string(p) != tc.want {
				t.Fatalf("got %q, %v; want %q, %v", p, err, tc.want, tc.err)
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("x", MaxFileSize+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file, want string
	}{
		{"missing", filepath.Join(dir, "missing"), "no such file"},
		{"too large", big, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unsetEnv(t)
			t.Setenv(FileEnvVar, tc.file)
			p, err := get("", "", false, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) || p != nil {
				t.Fatalf("got %q, %v; want an error containing %q", p, err, tc.want)
			}
			if strings.Contains(err.Error(), "xxxx") {
				t.Fatalf("error %q shows the file's contents", err)
			}
		})
	}
}

func TestNoTerminal(t *testing.T) {
	unsetEnv(t)
	notTTY := filepath.Join(t.TempDir(), "regular file")
	if err := os.WriteFile(notTTY, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tty := range []string{filepath.Join(t.TempDir(), "missing"), notTTY} {
		_, err := get("", "Passphrase: ", false, tty)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("tty %s: got %v, want ErrUnavailable", tty, err)
		}
		for _, v := range []string{EnvVar, FileEnvVar, CommandEnvVar} {
			if !strings.Contains(err.Error(), v) {
				t.Errorf("error %q does not tell the user to set %s", err, v)
			}
		}
	}
}

// Package passphrase obtains the passphrase that unlocks a device keystore:
// from the environment, from a file, from a command's output, or typed by
// the user at the terminal without echo. It never returns an empty passphrase, and the passphrase
// never appears in its errors.
package passphrase

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// Sources of a passphrase, tried in this order.
const (
	// EnvVar holds the passphrase itself.
	EnvVar = "COFFER_PASSPHRASE"
	// FileEnvVar names a file whose contents, less one trailing line
	// break, are the passphrase.
	FileEnvVar = "COFFER_PASSPHRASE_FILE"
	// NewEnvVar and NewFileEnvVar hold a new passphrase, as EnvVar and
	// FileEnvVar hold the current one (GetNew).
	NewEnvVar     = "COFFER_NEW_PASSPHRASE"
	NewFileEnvVar = "COFFER_NEW_PASSPHRASE_FILE"
	// ttyPath is the terminal prompted when neither variable is set.
	ttyPath = "/dev/tty"
)

// MaxFileSize bounds a passphrase file in bytes.
const MaxFileSize = 4096

// Errors of Get, wrapped with the source of the passphrase.
var (
	ErrUnavailable = errors.New("no passphrase available: set " + EnvVar + ", " + FileEnvVar + " or " + CommandEnvVar + ", or run from a terminal")
	ErrEmpty       = errors.New("empty value refused")
	ErrMismatch    = errors.New("the two passphrases typed differ")
)

// Get returns the passphrase from the first of these that is set: the
// output of command (the caller's --passphrase-command), $COFFER_PASSPHRASE,
// the file named by $COFFER_PASSPHRASE_FILE, the output of the command
// $COFFER_PASSPHRASE_COMMAND; else it shows prompt on the terminal and
// reads a line without echo. With confirm, a typed passphrase is asked for
// twice and must match; one from elsewhere is taken as is.
func Get(command, prompt string, confirm bool) ([]byte, error) {
	return get(command, prompt, confirm, ttyPath)
}

func get(command, prompt string, confirm bool, tty string) ([]byte, error) {
	switch Source(command) {
	case CommandFlag:
		return fromCommand(command, CommandFlag)
	case EnvVar, FileEnvVar:
		p, _, err := fromEnv(EnvVar, FileEnvVar, "passphrase")
		return p, err
	case CommandEnvVar:
		return fromCommand(os.Getenv(CommandEnvVar), "$"+CommandEnvVar)
	}
	return fromTerminal(prompt, confirm, tty)
}

// CommandFlag is what Source returns when the caller's command (a flag)
// gives the passphrase.
const CommandFlag = "--passphrase-command"

// Source names where Get(command, …) takes the passphrase from:
// CommandFlag, EnvVar, FileEnvVar, CommandEnvVar, or "" for the terminal.
func Source(command string) string {
	if command != "" {
		return CommandFlag
	}
	for _, v := range []string{EnvVar, FileEnvVar, CommandEnvVar} {
		if _, ok := os.LookupEnv(v); ok {
			return v
		}
	}
	return ""
}

// GetNew returns a new passphrase: from $COFFER_NEW_PASSPHRASE, else the
// file $COFFER_NEW_PASSPHRASE_FILE names, else typed twice at the terminal
// after prompt, without echo.
func GetNew(prompt string) ([]byte, error) {
	if p, ok, err := fromEnv(NewEnvVar, NewFileEnvVar, "new passphrase"); ok {
		return p, err
	}
	return fromTerminal(prompt, true, ttyPath)
}

// Secret returns another secret the user supplies, such as a recovery key:
// from $env if set, else from the file named by $fileEnv, else typed at the
// terminal after prompt without echo. what names it in errors, which never
// contain it.
func Secret(env, fileEnv, what, prompt string) ([]byte, error) {
	if p, ok, err := fromEnv(env, fileEnv, what); ok {
		return p, err
	}
	p, err := fromTerminal(prompt, false, ttyPath)
	if errors.Is(err, ErrUnavailable) {
		return nil, fmt.Errorf("no %s available: set %s or %s, or run from a terminal", what, env, fileEnv)
	}
	return p, err
}

// fromEnv returns the secret of $env, or of the file $fileEnv names, and
// whether either was set.
func fromEnv(env, fileEnv, what string) ([]byte, bool, error) {
	if v, ok := os.LookupEnv(env); ok {
		p, err := nonEmpty([]byte(v), what+" from $"+env)
		return p, true, err
	}
	if name, ok := os.LookupEnv(fileEnv); ok {
		p, err := fromFile(name, fileEnv, what)
		return p, true, err
	}
	return nil, false, nil
}

func nonEmpty(p []byte, source string) ([]byte, error) {
	if len(p) == 0 {
		return nil, fmt.Errorf("%s: %w", source, ErrEmpty)
	}
	return p, nil
}

// fromFile reads at most MaxFileSize bytes and strips one trailing "\n"
// or "\r\n".
func fromFile(name, fileEnv, what string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%s file ($%s): %w", what, fileEnv, err)
	}
	defer f.Close()
	p, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s file %s: %w", what, name, err)
	}
	if len(p) > MaxFileSize {
		clear(p)
		return nil, fmt.Errorf("%s file %s is larger than %d bytes", what, name, MaxFileSize)
	}
	p = bytes.TrimSuffix(p, []byte("\n"))
	p = bytes.TrimSuffix(p, []byte("\r"))
	return nonEmpty(p, what+" from file "+name)
}

func fromTerminal(prompt string, confirm bool, tty string) ([]byte, error) {
	f, err := os.OpenFile(tty, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrUnavailable, err)
	}
	defer f.Close()
	p, err := ask(f, prompt)
	if err != nil {
		return nil, err
	}
	if !confirm {
		return p, nil
	}
	again, err := ask(f, "Repeat passphrase: ")
	defer clear(again)
	if err == nil && subtle.ConstantTimeCompare(p, again) != 1 {
		err = ErrMismatch
	}
	if err != nil {
		clear(p)
		return nil, err
	}
	return p, nil
}

// ask shows prompt on the terminal and reads a non-empty line without echo.
func ask(tty *os.File, prompt string) ([]byte, error) {
	if _, err := io.WriteString(tty, prompt); err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrUnavailable, err)
	}
	p, err := term.ReadPassword(int(tty.Fd()))
	io.WriteString(tty, "\n") // the user's Enter was not echoed
	if err != nil {
		return nil, fmt.Errorf("%w (reading %s: %v)", ErrUnavailable, tty.Name(), err)
	}
	return nonEmpty(p, "terminal")
}

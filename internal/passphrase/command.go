package passphrase

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"time"
)

// CommandEnvVar names a command whose output is the passphrase, as
// restic's --password-command; a command given by the caller (a flag) comes
// first of all sources.
const CommandEnvVar = "COFFER_PASSPHRASE_COMMAND"

// ErrCommand is wrapped by every error about a passphrase command.
var ErrCommand = errors.New("passphrase command failed")

// fromCommand runs command with the system shell (sh -c, or cmd /C on
// Windows), its stdin and stderr those of this process, and returns the
// first line of its standard output, less a trailing "\r". The command
// must exit with status 0 and print at most MaxFileSize bytes and a line
// break: it stops being read beyond that (so one printing without end
// dies of a broken pipe), and it is an error. Errors name the source and
// how the command ended, never the command or what it printed, either of
// which may hold the secret.
func fromCommand(command, source string) ([]byte, error) {
	cmd := shell(command)
	out := &boundedBuffer{max: MaxFileSize + 2}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, out, os.Stderr
	cmd.WaitDelay = time.Second // a child left running with our pipe must not hold us
	err := cmd.Run()
	defer clear(out.buf.Bytes())
	var exit *exec.ExitError
	switch {
	case out.over:
		return nil, fmt.Errorf("%w: the command of %s printed more than %d bytes", ErrCommand, source, MaxFileSize+2)
	case errors.As(err, &exit):
		return nil, fmt.Errorf("%w: the command of %s exited with %s", ErrCommand, source, exit.ProcessState)
	case err != nil:
		return nil, fmt.Errorf("%w: the command of %s could not run: %w", ErrCommand, source, cause(err))
	}
	line, _, _ := bytes.Cut(out.buf.Bytes(), []byte("\n"))
	if line = bytes.TrimSuffix(line, []byte("\r")); len(line) > MaxFileSize {
		return nil, fmt.Errorf("%w: the command of %s printed a first line longer than %d bytes", ErrCommand, source, MaxFileSize)
	}
	return nonEmpty(bytes.Clone(line), "passphrase from the command of "+source)
}

// cause is the reason inside an error of os/exec, which would otherwise
// name the program and its arguments (the command line).
func cause(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// shell returns the command that runs a command line with the system's
// shell.
func shell(command string) *exec.Cmd {
	if runtime.GOOS == "windows" {
		return exec.Command("cmd", "/C", command)
	}
	return exec.Command("sh", "-c", command)
}

// boundedBuffer keeps at most max bytes; a write beyond fails, which
// closes the pipe the command writes to.
type boundedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

var errTooMuch = errors.New("too much output")

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if len(p) > b.max-b.buf.Len() {
		b.over = true
		return 0, errTooMuch
	}
	return b.buf.Write(p)
}

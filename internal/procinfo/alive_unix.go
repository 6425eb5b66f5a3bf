//go:build unix

package procinfo

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Alive reports whether a process with ID pid exists (signal 0 reaches it,
// or exists but may not be signalled by us).
func Alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || !errors.Is(err, unix.ESRCH)
}

package filelock

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// allBytes locks the whole file, whatever its length (as Go's own
// cmd/go/internal/lockedfile does).
const allBytes = ^uint32(0)

// TryLock takes a shared (exclusive false) or exclusive LockFileEx lock
// on all of f without waiting; if another holds it the conflicting way,
// the error wraps ErrLocked. Closing f releases it.
func TryLock(f *os.File, exclusive bool) error {
	flags := uint32(windows.LOCKFILE_FAIL_IMMEDIATELY)
	if exclusive {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	err := windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, allBytes, allBytes, new(windows.Overlapped))
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return fmt.Errorf("%w: %w", ErrLocked, err)
	}
	return err
}

// Package filelock takes advisory locks on whole files without waiting,
// which the system releases when the file is closed or its process ends:
// flock(2) on Unix, LockFileEx on Windows.
package filelock

import "errors"

// ErrLocked is wrapped by TryLock's error when another holder has the
// file locked in a way that conflicts.
var ErrLocked = errors.New("file is locked")

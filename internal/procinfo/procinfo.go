// Package procinfo tells whether a process that wrote a backup session
// marker (docs/format.md §8.2) is provably gone: the marker names the boot
// of the machine it ran on and its process ID, and a prune on the same
// boot of the same machine can ask the kernel whether that process still
// runs.
//
// It errs only towards "alive": a process ID reused by another process
// reads as alive, and where a platform cannot tell (no boot ID, or no way
// to ask), nothing is ever reported gone.
package procinfo

import "os"

// BootIDSize is the length of a boot ID: 32 lower-case hex digits.
const BootIDSize = 32

// Self returns this process's boot ID (empty where the platform has none)
// and process ID, as a session marker records them.
func Self() (boot string, pid int) { return BootID(), os.Getpid() }

// Gone reports whether the process pid of boot is provably not running:
// boot is this machine's current boot, pid is positive, and the kernel
// says no process has that ID.
func Gone(boot string, pid int) bool {
	return boot != "" && pid > 0 && boot == BootID() && !Alive(pid)
}

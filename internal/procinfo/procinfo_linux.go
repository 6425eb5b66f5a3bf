package procinfo

import (
	"os"
	"strings"
	"sync"
)

// bootID is read once: /proc/sys/kernel/random/boot_id, a random UUID the
// kernel draws at each boot, without its dashes.
var bootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	id := strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")
	if !validBoot(id) {
		return ""
	}
	return id
})

// BootID returns the kernel's ID of the current boot as 32 lower-case hex
// digits, or "" if it cannot be read.
func BootID() string { return bootID() }

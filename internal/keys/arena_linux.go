package keys

import "golang.org/x/sys/unix"

// adviseHugePages asks the kernel to back a with transparent huge pages.
// It is advice only: without them, a is faulted in 4 KiB at a time.
func adviseHugePages(a []byte) { _ = unix.Madvise(a, unix.MADV_HUGEPAGE) }

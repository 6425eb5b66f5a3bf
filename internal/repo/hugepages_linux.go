package repo

import "golang.org/x/sys/unix"

// adviseHugePages asks the kernel for transparent huge pages for b, a
// builder's buffer (advice only: an error changes nothing but speed). A
// data builder is filled once per pack and kept for the next, so its 16 MiB
// are faulted in 8 times 2 MiB rather than 4 096 times 4 KiB, which cost
// about 7 us apiece in the VM issue 10 measures on.
func adviseHugePages(b []byte) { _ = unix.Madvise(b, unix.MADV_HUGEPAGE) }

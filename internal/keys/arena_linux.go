package keys

import "golang.org/x/sys/unix"

// adviseHugePages asks the kernel for transparent huge pages for a (advice
// only: an error changes nothing but speed).
func adviseHugePages(a []byte) { _ = unix.Madvise(a, unix.MADV_HUGEPAGE) }

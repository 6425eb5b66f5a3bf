package archiver

import "golang.org/x/sys/unix"

// oNoAtime keeps reading a file from updating its access time.
const oNoAtime = unix.O_NOATIME

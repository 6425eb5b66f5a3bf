package fsmeta

import "golang.org/x/sys/unix"

// errNoAttr is the error for an extended attribute that does not exist.
const errNoAttr = unix.ENODATA

// fromStat takes Stat's fields from a Linux stat. Linux records no
// platform metadata: its birth time (statx) and attribute flags
// (FS_IOC_GETFLAGS) are not backed up (docs/format.md §5.0).
func fromStat(st *unix.Stat_t) rawStat {
	return rawStat{
		mode: st.Mode, dev: uint64(st.Dev), rdev: uint64(st.Rdev), nlink: uint64(st.Nlink),
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(),
	}
}

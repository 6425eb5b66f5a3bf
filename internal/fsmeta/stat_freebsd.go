package fsmeta

import "golang.org/x/sys/unix"

// errNoAttr is the error for an extended attribute that does not exist.
const errNoAttr = unix.ENOATTR

// storageFlags are file flags that describe storage rather than the file
// (macOS has some, stat_darwin.go); FreeBSD's all describe the file.
const storageFlags = 0

// fromStat takes Stat's fields from a FreeBSD stat (64-bit dev_t since
// FreeBSD 12); birth time, when the file system keeps one (st_birthtime
// is -1 otherwise), and, when any is set, the file flags (chflags(2)) are
// platform metadata.
func fromStat(st *unix.Stat_t) rawStat {
	rs := rawStat{
		mode: uint32(st.Mode), dev: st.Dev, rdev: st.Rdev, nlink: st.Nlink,
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(),
	}
	if st.Btim.Sec != -1 {
		btime := st.Btim.Nano()
		rs.meta.birthTime = &btime
	}
	if st.Flags != 0 {
		flags := st.Flags
		rs.meta.flags = &flags
	}
	return rs
}

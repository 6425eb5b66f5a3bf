package fsmeta

import "golang.org/x/sys/unix"

// errNoAttr is the error for an extended attribute that does not exist.
const errNoAttr = unix.ENOATTR

// fromStat takes Stat's fields from a macOS stat: its dev_t is 32 bits
// (major in the top 8), kept as the unsigned value; birth time and, when
// any is set, the file flags (chflags(2)) are platform metadata.
func fromStat(st *unix.Stat_t) rawStat {
	rs := rawStat{
		mode: uint32(st.Mode), dev: uint64(uint32(st.Dev)), rdev: uint64(uint32(st.Rdev)), nlink: uint64(st.Nlink),
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(),
	}
	btime := st.Btim.Nano()
	rs.meta.birthTime = &btime
	if st.Flags != 0 {
		flags := st.Flags
		rs.meta.flags = &flags
	}
	return rs
}

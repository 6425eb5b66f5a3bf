package fsmeta

import "golang.org/x/sys/unix"

// errNoAttr is the error for an extended attribute that does not exist.
const errNoAttr = unix.ENOATTR

// storageFlags are file flags that say how macOS stores a file, not what
// it is: compressed by decmpfs, tracked for document IDs, dataless (its
// content in the cloud). Setting them on a restored file would misdescribe
// its storage (a plain file marked compressed reads as garbage), so they are
// not recorded.
const storageFlags = unix.UF_COMPRESSED | unix.UF_TRACKED | unix.SF_DATALESS

// fromStat takes Stat's fields from a macOS stat: its dev_t is 32 bits
// (major in the top 8), kept as the unsigned value; birth time and, when
// any but storageFlags is set, the file flags (chflags(2)) are platform
// metadata.
func fromStat(st *unix.Stat_t) rawStat {
	rs := rawStat{
		mode: uint32(st.Mode), dev: uint64(uint32(st.Dev)), rdev: uint64(uint32(st.Rdev)), nlink: uint64(st.Nlink),
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(),
	}
	btime := st.Btim.Nano()
	rs.meta.birthTime = &btime
	if flags := st.Flags &^ storageFlags; flags != 0 {
		rs.meta.flags = &flags
	}
	return rs
}

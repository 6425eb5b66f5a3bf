package fsmeta

import (
	"encoding/binary"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// fsoptNoFollowAny makes setattrlist(2) refuse a path with a symbolic link
// in any component (FSOPT_NOFOLLOW_ANY in <sys/attr.h>, macOS 11 and
// later); golang.org/x/sys/unix does not define it.
const fsoptNoFollowAny = 0x800

// mknodat creates a special file: macOS has no mknodat(2) or mkfifoat(2)
// in golang.org/x/sys/unix, and path-based calls would follow symbolic
// links below the root, so restoring one is refused.
func mknodat(_ int, _ string, mode uint32, _ uint64) error {
	return fmt.Errorf("creating a %s on macOS: not supported", nodeType(mode))
}

// setBirthTime sets the creation time of rel with setattrlist(2)
// (ATTR_CMN_CRTIME), by its path below the root with symbolic links
// resolved, following none (FSOPT_NOFOLLOW_ANY).
func (r *Root) setBirthTime(rel string, _ int, _ string, btime int64) error {
	ts := unix.NsecToTimespec(btime)
	buf := binary.NativeEndian.AppendUint64(nil, uint64(ts.Sec))
	buf = binary.NativeEndian.AppendUint64(buf, uint64(ts.Nsec))
	attrs := unix.Attrlist{Bitmapcount: unix.ATTR_BIT_MAP_COUNT, Commonattr: unix.ATTR_CMN_CRTIME}
	return unix.Setattrlist(filepath.Join(r.real, rel), &attrs, buf, unix.FSOPT_NOFOLLOW|fsoptNoFollowAny)
}

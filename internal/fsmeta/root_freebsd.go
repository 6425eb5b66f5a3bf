package fsmeta

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// mknodat creates the fifo or device name in dfd: FreeBSD's mknodat(2)
// makes a fifo for S_IFIFO; it cannot make a socket.
func mknodat(dfd int, name string, mode uint32, dev uint64) error {
	if mode&unix.S_IFMT == unix.S_IFSOCK {
		return fmt.Errorf("creating a socket on FreeBSD: not supported")
	}
	return unix.Mknodat(dfd, name, mode, dev)
}

// setBirthTime sets the birth time of name in dfd by setting its times to
// btime first: UFS and ZFS lower the birth time of a file to a
// modification time set earlier than it (utimes(2)). setTimes then sets the
// modification time and checks the birth time the file kept.
func (r *Root) setBirthTime(_ string, dfd int, name string, btime int64) error {
	ts := unix.NsecToTimespec(btime)
	return unix.UtimesNanoAt(dfd, name, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}

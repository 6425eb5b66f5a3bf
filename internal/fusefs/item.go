//go:build linux || darwin

package fusefs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/filedata"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// snap is one snapshot of the mount and whether its trees passed the
// measure every walk of it needs first.
type snap struct {
	sn       snapshot.Stored
	mu       sync.Mutex
	measured bool
	err      error // the measure's verdict, once measured
}

// check measures the snapshot on first use (treewalk.Measure: what its
// trees expand to, each distinct tree loaded once) and fails with EIO,
// reporting why once, if it exceeds the snapshot's budget or cannot be
// read. Nothing below a snapshot's root is listed before it passed.
func (s *snap) check(ctx context.Context, fsys *FS) syscall.Errno {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.measured {
		_, err := treewalk.Measure(ctx, fsys.blobs, treewalk.RootOf(s.sn))
		if ctx.Err() != nil {
			return syscall.EINTR
		}
		s.measured, s.err = true, err
		if err != nil {
			fsys.warn(fmt.Errorf("snapshot %s is not shown: %w", s.sn.ID.Short(), err))
		}
	}
	if s.err != nil {
		return syscall.EIO
	}
	return 0
}

// item is a directory, file, symbolic link or special file of a snapshot.
type item struct {
	fs.Inode
	fsys *FS
	snap *snap
	n    *tree.Node
}

var (
	_ fs.NodeGetattrer   = (*item)(nil)
	_ fs.NodeLookuper    = (*item)(nil)
	_ fs.NodeReaddirer   = (*item)(nil)
	_ fs.NodeOpener      = (*item)(nil)
	_ fs.NodeReader      = (*item)(nil)
	_ fs.NodeLseeker     = (*item)(nil)
	_ fs.NodeReadlinker  = (*item)(nil)
	_ fs.NodeGetxattrer  = (*item)(nil)
	_ fs.NodeListxattrer = (*item)(nil)
	_ fs.NodeAccesser    = (*item)(nil)
)

// rootItem returns the directory holding a snapshot's root tree, with the
// snapshot's time and the owner and mode of the mount's own directories.
func (fsys *FS) rootItem(s *snap) *item {
	n := &tree.Node{Type: tree.Dir, Mode: 0o555, UID: fsys.uid, GID: fsys.gid,
		MTime: s.sn.Time.UnixNano(), Subtrees: []blob.ID{s.sn.Tree}}
	return &item{fsys: fsys, snap: s, n: n}
}

// typeBits are the file-type bits of each node type.
var typeBits = map[tree.NodeType]uint32{
	tree.File: syscall.S_IFREG, tree.Dir: syscall.S_IFDIR, tree.Symlink: syscall.S_IFLNK,
	tree.Fifo: syscall.S_IFIFO, tree.CharDev: syscall.S_IFCHR, tree.BlockDev: syscall.S_IFBLK, tree.Socket: syscall.S_IFSOCK,
}

// Getattr reports the metadata the snapshot recorded.
func (it *item) Getattr(_ context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fillAttr(&out.Attr, it.n)
	return 0
}

// fillAttr sets a to what n records: type and permission bits, owner,
// times (access and change time are the modification time unless a change
// time was recorded), size, the blocks that hold data (holes take none),
// the device number, and the hard-link count of a file.
func fillAttr(a *fuse.Attr, n *tree.Node) {
	a.Mode = typeBits[n.Type] | n.Mode&0o7777
	a.Owner = fuse.Owner{Uid: n.UID, Gid: n.GID}
	a.Nlink = 1
	setTime(&a.Mtime, &a.Mtimensec, n.MTime)
	setTime(&a.Atime, &a.Atimensec, n.MTime)
	setTime(&a.Ctime, &a.Ctimensec, cmpOr(n.CTime, n.MTime))
	a.Blksize = 4096
	switch n.Type {
	case tree.File:
		a.Size = n.Size
		a.Blocks = (dataBytes(n) + 4095) / 4096 * 8
		a.Nlink = uint32(max(1, min(n.Links, 1<<31)))
	case tree.Symlink:
		a.Size = uint64(len(n.LinkTarget))
	case tree.CharDev, tree.BlockDev:
		a.Rdev = fuseRdev(n.Rdev)
	}
}

func cmpOr(a, b int64) int64 {
	if a != 0 {
		return a
	}
	return b
}

// setTime splits nanoseconds since the epoch, which may be negative, into
// FUSE's seconds (two's complement) and nanoseconds.
func setTime(sec *uint64, nsec *uint32, ns int64) {
	t := time.Unix(0, ns)
	*sec, *nsec = uint64(t.Unix()), uint32(t.Nanosecond())
}

// dataBytes returns the bytes of n's data extents.
func dataBytes(n *tree.Node) uint64 {
	var sum uint64
	for _, e := range n.Content {
		if !e.IsHole() {
			sum += e.Length
		}
	}
	return sum
}

// fuseRdev encodes a device number for FUSE, which carries 32 bits in the
// kernel's "new" encoding (12 bits of major, 20 of minor).
func fuseRdev(rdev uint64) uint32 {
	major, minor := unix.Major(rdev), unix.Minor(rdev)
	return minor&0xff | major&0xfff<<8 | (minor&^0xff)<<12
}

// Access answers ENOSYS, so that the kernel stops asking: it then allows
// every access the read-only mount does not refuse itself (writes get
// EROFS), as reads are allowed to the only user the mount serves. Its
// asking would also deadlock a process that forks a child into the mount
// it serves (the child's chdir waits for an answer the forking parent
// cannot give; go-fuse's documentation, "Deadlocks").
func (it *item) Access(context.Context, uint32) syscall.Errno { return syscall.ENOSYS }

// Readlink returns a symbolic link's target as recorded.
func (it *item) Readlink(context.Context) ([]byte, syscall.Errno) {
	if it.n.Type != tree.Symlink {
		return nil, syscall.EINVAL
	}
	return bytes.Clone(it.n.LinkTarget), 0
}

// Getxattr returns a recorded extended attribute.
func (it *item) Getxattr(_ context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	for _, x := range it.n.Xattrs {
		if x.Name == attr && !platformMeta(x.Name) {
			return fitInto(dest, x.Value)
		}
	}
	return 0, errNoXattr
}

// Listxattr returns the recorded extended attributes' names.
func (it *item) Listxattr(_ context.Context, dest []byte) (uint32, syscall.Errno) {
	var names []byte
	for _, x := range it.n.Xattrs {
		if !platformMeta(x.Name) {
			names = append(append(names, x.Name...), 0)
		}
	}
	return fitInto(dest, names)
}

// platformMeta reports whether an attribute name is one of the reserved
// names that hold another platform's metadata (docs/format.md §5.0,
// "Platform metadata"): they begin with NUL, which a list of names
// cannot carry, and are no attribute of the file.
func platformMeta(name string) bool { return strings.HasPrefix(name, "\x00") }

// fitInto copies v into dest as the xattr calls do: an empty dest asks
// only for the size, a short one gets ERANGE.
func fitInto(dest, v []byte) (uint32, syscall.Errno) {
	switch {
	case len(dest) == 0:
		return uint32(len(v)), 0
	case len(dest) < len(v):
		return uint32(len(v)), syscall.ERANGE
	}
	return uint32(copy(dest, v)), 0
}

// Lookup finds the entry called name of a directory.
func (it *item) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := it.snap.check(ctx, it.fsys); errno != 0 {
		return nil, errno
	}
	for _, id := range it.n.Subtrees {
		nodes, errno := it.listing(ctx, id)
		if errno != 0 {
			return nil, errno
		}
		i := sort.Search(len(nodes), func(i int) bool { return string(nodes[i].Name) >= name })
		if i < len(nodes) && string(nodes[i].Name) == name {
			fillAttr(&out.Attr, nodes[i])
			return it.child(ctx, nodes[i]), 0
		}
	}
	return nil, syscall.ENOENT
}

// listing returns the entries of one tree blob of the directory.
func (it *item) listing(ctx context.Context, id blob.ID) ([]*tree.Node, syscall.Errno) {
	nodes, err := it.fsys.listing(ctx, id)
	if err != nil {
		return nil, it.fail(ctx, err)
	}
	return nodes, 0
}

// fail reports err, for the item at its path in the mount, and returns the
// errno for it: EINTR if the request was interrupted, EIO otherwise.
func (it *item) fail(ctx context.Context, err error) syscall.Errno {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return syscall.EINTR
	}
	it.fsys.warn(fmt.Errorf("%s: %w", it.Path(nil), err))
	return syscall.EIO
}

// child returns the inode of n, an entry of this directory. Files that
// share a hard-link group in the snapshot share an inode number, so one
// inode stands for all of them.
func (it *item) child(ctx context.Context, n *tree.Node) *fs.Inode {
	attr := fs.StableAttr{Mode: typeBits[n.Type]}
	if n.Type == tree.File && n.Links > 1 {
		attr.Ino = linkIno(it.snap.sn.ID, n)
	}
	return it.NewInode(ctx, &item{fsys: it.fsys, snap: it.snap, n: n}, attr)
}

// linkIno returns the inode number of a hard-link group of a snapshot:
// below 2^63, where go-fuse's own numbers start, and above the root's.
func linkIno(id blob.ID, n *tree.Node) uint64 {
	h := sha256.New()
	h.Write(id[:])
	h.Write(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, n.Device), n.Inode))
	return max(binary.BigEndian.Uint64(h.Sum(nil))>>1, 2)
}

// Readdir lists a directory's entries, one tree blob at a time.
func (it *item) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	if errno := it.snap.check(ctx, it.fsys); errno != 0 {
		return nil, errno
	}
	return &dirStream{it: it, ids: it.n.Subtrees}, 0
}

// dirStream lists the entries of tree blobs in order, loading each when
// the listing reaches it. An entry whose name does not sort after the one
// before, which no honest listing holds, is left out, so no name is
// listed twice. It outlives the request that made it (go-fuse reuses a
// request's context), so its loads run without one.
type dirStream struct {
	it    *item
	ids   []blob.ID
	nodes []*tree.Node
	last  []byte
	errno syscall.Errno
}

// HasNext loads tree blobs until an entry is ready, or reports an error
// for Next to return.
func (d *dirStream) HasNext() bool {
	for d.errno == 0 {
		for len(d.nodes) > 0 && d.last != nil && bytes.Compare(d.nodes[0].Name, d.last) <= 0 {
			d.nodes = d.nodes[1:]
		}
		if len(d.nodes) > 0 {
			return true
		}
		if len(d.ids) == 0 {
			return false
		}
		d.nodes, d.errno = d.it.listing(context.Background(), d.ids[0])
		d.ids = d.ids[1:]
	}
	return true
}

// Next returns the next entry.
func (d *dirStream) Next() (fuse.DirEntry, syscall.Errno) {
	if d.errno != 0 {
		return fuse.DirEntry{}, d.errno
	}
	n := d.nodes[0]
	d.nodes, d.last = d.nodes[1:], n.Name
	e := fuse.DirEntry{Name: string(n.Name), Mode: typeBits[n.Type]}
	if n.Type == tree.File && n.Links > 1 {
		e.Ino = linkIno(d.it.snap.sn.ID, n)
	}
	return e, 0
}

func (d *dirStream) Close() {}

// Open opens a regular file for reading; the kernel may keep its pages
// cached, as a snapshot never changes.
func (it *item) Open(_ context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return nil, 0, syscall.EROFS
	}
	f, err := filedata.Open(it.fsys.data, it.n)
	if err != nil {
		return nil, 0, it.fail(context.Background(), err)
	}
	return f, fuse.FOPEN_KEEP_CACHE, 0
}

// Read reads the file's bytes at off, holes as zeros, and loads the next
// blobs ahead.
func (it *item) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f, ok := fh.(*filedata.File)
	if !ok || off < 0 {
		return nil, syscall.EBADF
	}
	n, err := f.ReadAt(ctx, dest, uint64(off))
	if err != nil && err != io.EOF {
		return nil, it.fail(ctx, err)
	}
	it.fsys.data.prefetch(f.Next(uint64(off)+uint64(n), blobsAhead))
	return fuse.ReadResultData(dest[:n]), 0
}

// Lseek answers SEEK_DATA and SEEK_HOLE from the file's extents, so that
// programs that look for holes find those the snapshot recorded.
func (it *item) Lseek(_ context.Context, fh fs.FileHandle, off uint64, whence uint32) (uint64, syscall.Errno) {
	f, ok := fh.(*filedata.File)
	if !ok {
		return 0, syscall.EBADF
	}
	var pos uint64
	found := false
	switch whence {
	case unix.SEEK_DATA:
		pos, found = f.SeekData(off)
	case unix.SEEK_HOLE:
		pos, found = f.SeekHole(off)
	default:
		return 0, syscall.EINVAL
	}
	if !found {
		return 0, syscall.ENXIO
	}
	return pos, 0
}

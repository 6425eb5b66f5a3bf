//go:build linux || darwin

package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/coffer-backup/coffer/internal/tree"
)

// vnode is a directory the mount adds (the root, snapshots/, hosts/ and
// tags/ and theirs): its entries are made once, when it is added, and
// go-fuse answers lookups and listings from them.
type vnode struct {
	fs.Inode
	fsys *FS
	d    *vdir
}

var (
	_ fs.NodeOnAdder   = (*vnode)(nil)
	_ fs.NodeGetattrer = (*vnode)(nil)
	_ fs.NodeAccesser  = (*vnode)(nil)
)

// OnAdd adds the directory's entries: its subdirectories, links and
// snapshot roots.
func (v *vnode) OnAdd(ctx context.Context) {
	for _, name := range sortedNames(v.d.dirs) {
		ch := v.NewPersistentInode(ctx, &vnode{fsys: v.fsys, d: v.d.dirs[name]}, fs.StableAttr{Mode: syscall.S_IFDIR})
		v.AddChild(name, ch, false)
	}
	for _, name := range sortedNames(v.d.links) {
		ch := v.NewPersistentInode(ctx, &vlink{fsys: v.fsys, target: v.d.links[name]}, fs.StableAttr{Mode: syscall.S_IFLNK})
		v.AddChild(name, ch, false)
	}
	for _, name := range sortedNames(v.d.snaps) {
		root := v.fsys.rootItem(&snap{sn: *v.d.snaps[name]})
		v.AddChild(name, v.NewPersistentInode(ctx, root, fs.StableAttr{Mode: syscall.S_IFDIR}), false)
	}
}

// Getattr reports a read-only directory of the mounting user.
func (v *vnode) Getattr(_ context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fillAttr(&out.Attr, &tree.Node{Type: tree.Dir, Mode: 0o555, UID: v.fsys.uid, GID: v.fsys.gid, MTime: v.fsys.mtime.UnixNano()})
	return 0
}

// Access answers ENOSYS, as item.Access does.
func (v *vnode) Access(context.Context, uint32) syscall.Errno { return syscall.ENOSYS }

// vlink is a symbolic link the mount adds (latest, and the entries of
// hosts/ and tags/).
type vlink struct {
	fs.Inode
	fsys   *FS
	target string
}

var (
	_ fs.NodeReadlinker = (*vlink)(nil)
	_ fs.NodeGetattrer  = (*vlink)(nil)
)

func (l *vlink) Readlink(context.Context) ([]byte, syscall.Errno) { return []byte(l.target), 0 }

func (l *vlink) Getattr(_ context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fillAttr(&out.Attr, &tree.Node{Type: tree.Symlink, Mode: 0o777, UID: l.fsys.uid, GID: l.fsys.gid,
		MTime: l.fsys.mtime.UnixNano(), LinkTarget: []byte(l.target)})
	return 0
}

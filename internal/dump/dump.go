// Package dump writes part of a snapshot as a tar archive (coffer dump),
// streaming: it walks the snapshot with treewalk.WalkAt, which measures
// the walk first, and writes each file's blobs as it reads them, so
// memory does not grow with the files' size.
package dump

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/coffer-backup/coffer/internal/filedata"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// Loader loads tree and data blobs.
type Loader interface {
	treewalk.Loader
	filedata.Loader
}

// maxLinkGroups bounds the hard-link groups remembered; files of further
// groups are written in full each time.
const maxLinkGroups = 1 << 20

// Tar writes the item at the path at of root ("/" for everything) and all
// below it to w as a tar archive in PAX format: names relative to the
// directory holding at (for "/", to the root), any length and any bytes;
// permission bits with setuid, setgid and sticky; owner IDs and names;
// modification times to the nanosecond; symbolic links; devices and
// fifos; extended attributes as SCHILY.xattr records; a hard-link group's
// content once, its other names as links to the first. Holes are written
// as zeros. Sockets, which tar cannot hold, and attributes whose names it
// cannot carry are left out, each reported to warn. The archive is
// complete only if Tar returns nil.
func Tar(ctx context.Context, l Loader, root treewalk.Root, at string, w io.Writer, warn func(error)) error {
	at = path.Clean("/" + at)
	d := &dumper{l: l, tw: tar.NewWriter(w), warn: warn, base: len(path.Dir(at)), links: map[[2]uint64]string{}}
	if at == "/" {
		d.base = 0
	}
	if err := treewalk.WalkAt(ctx, l, root, at, func(p string, n *tree.Node) error { return d.item(ctx, p, n) }); err != nil {
		return err
	}
	return d.tw.Close()
}

// dumper writes one archive.
type dumper struct {
	l     Loader
	tw    *tar.Writer
	warn  func(error)
	base  int                  // bytes of a path before its name in the archive, less the '/'
	links map[[2]uint64]string // (device, inode) of a hard-link group -> its first name
	meta  bool                 // warned that platform metadata is left out
}

// item writes the item n found at path p.
func (d *dumper) item(ctx context.Context, p string, n *tree.Node) error {
	name := strings.TrimPrefix(p[d.base:], "/")
	hdr, err := d.header(name, n)
	if err != nil {
		d.warn(fmt.Errorf("%s: %w", p, err))
		return nil
	}
	if err := d.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := filedata.Open(d.l, n)
	if err == nil {
		_, err = f.WriteTo(ctx, d.tw)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// errSocket is reported for sockets, which tar cannot hold.
var errSocket = errors.New("a socket cannot be put in a tar archive; left out")

// header returns the tar header of n, named name in the archive.
func (d *dumper) header(name string, n *tree.Node) (*tar.Header, error) {
	hdr := &tar.Header{Name: name, Mode: int64(n.Mode & 0o7777), Uid: int(n.UID), Gid: int(n.GID),
		Uname: n.User, Gname: n.Group, ModTime: time.Unix(0, n.MTime), Format: tar.FormatPAX}
	switch n.Type {
	case tree.Dir:
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
	case tree.File:
		d.file(hdr, n)
	case tree.Symlink:
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, string(n.LinkTarget)
	case tree.Fifo:
		hdr.Typeflag = tar.TypeFifo
	case tree.CharDev, tree.BlockDev:
		hdr.Typeflag = map[tree.NodeType]byte{tree.CharDev: tar.TypeChar, tree.BlockDev: tar.TypeBlock}[n.Type]
		hdr.Devmajor, hdr.Devminor = devNumbers(n.Rdev)
	default:
		return nil, errSocket
	}
	d.xattrs(hdr, n)
	return hdr, nil
}

// file fills in a regular file's header: its size, or a link to the
// first name of its hard-link group.
func (d *dumper) file(hdr *tar.Header, n *tree.Node) {
	hdr.Typeflag, hdr.Size = tar.TypeReg, int64(n.Size)
	if n.Links < 2 {
		return
	}
	key := [2]uint64{n.Device, n.Inode}
	if first, ok := d.links[key]; ok {
		hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
	} else if len(d.links) < maxLinkGroups {
		d.links[key] = hdr.Name
	}
}

// xattrs records n's extended attributes, warning about names a PAX
// record cannot carry.
func (d *dumper) xattrs(hdr *tar.Header, n *tree.Node) {
	for _, x := range n.Xattrs {
		if strings.HasPrefix(x.Name, "\x00") { // platform metadata (docs/format.md §5.0), no attribute
			if !d.meta {
				d.meta = true
				d.warn(fmt.Errorf("%s: birth times, file flags and Windows attributes and security descriptors have no place in a tar archive; left out of every item", hdr.Name))
			}
			continue
		}
		if strings.ContainsAny(x.Name, "=\x00") {
			d.warn(fmt.Errorf("%s: extended attribute %q cannot be put in a tar archive; left out", hdr.Name, x.Name))
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+x.Name] = string(x.Value)
	}
}

// devNumbers splits a device number, in Linux's 64-bit dev_t encoding as
// the format records it (docs/format.md §5.2), into major and minor.
func devNumbers(d uint64) (major, minor int64) {
	return int64(d>>8&0xfff | d>>32&0xfffff000), int64(d&0xff | d>>12&0xffffff00)
}

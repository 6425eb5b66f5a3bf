package fsmeta

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/coffer-backup/coffer/internal/tree"
)

// reservedChars are the characters, besides '/' and NUL, that a name
// restored on Windows may not hold: the path separator '\', ':' (which
// names an alternate data stream) and the others Win32 reserves.
const reservedChars = "\\:*?\"<>|"

// errUnknownType is returned for a file that is none of the node types.
var errUnknownType = errors.New("unsupported file type")

// fileBasicInfo is FILE_BASIC_INFO (winbase.h), which golang.org/x/sys/windows
// does not define: times in 100 ns intervals since 1601, then the
// FILE_ATTRIBUTE_* bits.
type fileBasicInfo struct {
	CreationTime, LastAccessTime, LastWriteTime, ChangeTime int64
	FileAttributes                                          uint32
	_                                                       uint32
}

// sdInfo is what a backup records of a security descriptor, and restore sets.
const sdInfo = windows.OWNER_SECURITY_INFORMATION | windows.GROUP_SECURITY_INFORMATION | windows.DACL_SECURITY_INFORMATION

// captureSince is capture: the attributes and security descriptor are read
// every time.
func captureSince(path string, _ *tree.Node) (*tree.Node, []error, error) { return capture(path) }

// capture is Stat with its warnings on Windows: os.Lstat gives the type,
// size and modification time; a handle opened without following a
// reparse point gives the file index, volume serial number, link count,
// change and creation times, attributes, security descriptor and the
// alternate data streams, each of which is a warning.
func capture(path string) (*tree.Node, []error, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("fsmeta: lstat %q: %w", path, err)
	}
	n := &tree.Node{Name: []byte(filepath.Base(path)), Mode: uint32(fi.Mode().Perm()), MTime: fi.ModTime().UnixNano()}
	switch m := fi.Mode(); {
	case m.IsRegular():
		n.Type, n.Size = tree.File, uint64(fi.Size())
	case m.IsDir():
		n.Type = tree.Dir
	case m&fs.ModeSymlink != 0:
		n.Type = tree.Symlink
		target, err := os.Readlink(path)
		if err != nil {
			return nil, nil, fmt.Errorf("fsmeta: readlink %q: %w", path, err)
		}
		n.LinkTarget = []byte(filepath.ToSlash(target))
	default:
		return nil, nil, fmt.Errorf("fsmeta: %q: %w (mode %v)", path, errUnknownType, m)
	}
	warnings, err := fromHandle(path, n)
	if err != nil {
		return nil, nil, fmt.Errorf("fsmeta: %q: %w", path, err)
	}
	return n, warnings, nil
}

// fromHandle fills in what n needs a handle of path for.
func fromHandle(path string, n *tree.Node) ([]error, error) {
	h, err := openHandle(path, windows.READ_CONTROL|windows.FILE_READ_ATTRIBUTES)
	if err != nil {
		return nil, err
	}
	defer func() { _ = windows.CloseHandle(h) }() // read or attributes set: nothing to flush
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		return nil, fmt.Errorf("GetFileInformationByHandle: %w", err)
	}
	var basic fileBasicInfo
	if err := windows.GetFileInformationByHandleEx(h, windows.FileBasicInfo, (*byte)(unsafe.Pointer(&basic)), uint32(unsafe.Sizeof(basic))); err != nil {
		return nil, fmt.Errorf("GetFileInformationByHandleEx: %w", err)
	}
	n.Inode = uint64(info.FileIndexHigh)<<32 | uint64(info.FileIndexLow)
	n.Device, n.Links = uint64(info.VolumeSerialNumber), uint64(info.NumberOfLinks)
	n.CTime = fromFiletime(basic.ChangeTime)
	btime, attrs := fromFiletime(basic.CreationTime), basic.FileAttributes
	m := platformMeta{birthTime: &btime, winAttrs: &attrs}
	if sd, err := windows.GetSecurityInfo(h, windows.SE_FILE_OBJECT, sdInfo); err == nil && sd != nil {
		m.winSD = slices.Clone(unsafe.Slice((*byte)(unsafe.Pointer(sd)), sd.Length()))
	} else if err != nil {
		return nil, fmt.Errorf("GetSecurityInfo: %w", err)
	}
	n.Xattrs = withMeta(nil, m)
	warnings, err := streams(h)
	if err != nil { // some file systems cannot list streams: say so, and back up the rest
		warnings = []error{fmt.Errorf("%w: alternate data streams, if any: %w", ErrNotRecorded, err)}
	}
	return warnings, nil
}

// openHandle opens path, not following it if it is a reparse point, for
// access; a directory is opened too (FILE_FLAG_BACKUP_SEMANTICS).
func openHandle(path string, access uint32) (windows.Handle, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, err
	}
	const share = windows.FILE_SHARE_READ | windows.FILE_SHARE_WRITE | windows.FILE_SHARE_DELETE
	h, err := windows.CreateFile(p, access, share, nil, windows.OPEN_EXISTING,
		windows.FILE_FLAG_OPEN_REPARSE_POINT|windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return 0, fmt.Errorf("open: %w", err)
	}
	return h, nil
}

// epochDelta is the Unix epoch in 100 ns intervals since 1601-01-01.
const epochDelta = 116444736000000000

func fromFiletime(ft int64) int64 { return (ft - epochDelta) * 100 }

func toFiletime(ns int64) int64 { return ns/100 + epochDelta }

// streams returns a warning wrapping ErrNotRecorded for each alternate
// data stream of the file h, which Coffer does not back up: every stream
// but the unnamed "::$DATA" (FILE_STREAM_INFO, FileStreamInfo).
func streams(h windows.Handle) ([]error, error) {
	buf := make([]byte, 4<<10)
	for {
		err := windows.GetFileInformationByHandleEx(h, windows.FileStreamInfo, &buf[0], uint32(len(buf)))
		switch {
		case errors.Is(err, windows.ERROR_HANDLE_EOF):
			return nil, nil // no streams at all, as for most directories
		case errors.Is(err, windows.ERROR_MORE_DATA) && len(buf) < 1<<20:
			buf = make([]byte, 2*len(buf))
			continue
		case err != nil:
			return nil, fmt.Errorf("list streams: %w", err)
		}
		list, err := parseStreamInfo(buf)
		if err != nil {
			return nil, err
		}
		var warnings []error
		for _, st := range list {
			if st.name != "::$DATA" {
				warnings = append(warnings, fmt.Errorf("%w: alternate data stream %q (%d bytes)", ErrNotRecorded, st.name, st.size))
			}
		}
		return warnings, nil
	}
}

// ReadDirNames returns the names of the entries of dir, sorted by their
// bytes (UTF-8, as Go converts them). dir is not listed if it is a
// symbolic link or junction.
func ReadDirNames(dir string) ([]string, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("fsmeta: open directory %q: %w", dir, err)
	}
	if !fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("fsmeta: open directory %q: not a directory", dir)
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("fsmeta: open directory %q: %w", dir, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("fsmeta: read directory %q: %w", dir, err)
	}
	slices.Sort(names)
	return names, nil
}

// Dir is a directory whose entries are stated by their paths (Windows
// gives no call relative to an open directory that os uses).
type Dir struct{ path string }

// OpenDir returns dir with the names of its entries, as ReadDirNames.
func OpenDir(dir string) (*Dir, []string, error) {
	names, err := ReadDirNames(dir)
	if err != nil {
		return nil, nil, err
	}
	return &Dir{dir}, names, nil
}

// StatSince is StatWarn of the entry name of d: Windows takes nothing from
// old.
func (d *Dir) StatSince(name string, old *tree.Node) (*tree.Node, []error, error) {
	return captureSince(filepath.Join(d.path, name), old)
}

// Close does nothing: no handle stays open.
func (d *Dir) Close() error { return nil }

// StatFile returns the identity of an open file, for ReopenFile: its
// volume serial number and file index.
func StatFile(f *os.File) (FileID, error) {
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(windows.Handle(f.Fd()), &info); err != nil {
		return FileID{}, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	return FileID{uint64(info.VolumeSerialNumber), uint64(info.FileIndexHigh)<<32 | uint64(info.FileIndexLow)}, nil
}

// DataRanges returns the single range [0, size) of f, or none for an
// empty file: holes of sparse files are not looked for on Windows, so
// they are stored as zeros.
func DataRanges(_ File, size int64) ([]Range, error) {
	if size <= 0 {
		return nil, nil
	}
	return []Range{{0, size}}, nil
}

// Regular reports false: Windows lists no type the backup relies on, so
// every entry is stated by its path (StatSince).
func (d *Dir) Regular(int) bool { return false }

// CaptureFile is StatWarn of the open file f, read by its path f.Name().
// It reports nothing allocated: DataRanges finds the file's data.
func CaptureFile(f File) (n *tree.Node, allocated int64, warnings []error, err error) {
	n, warnings, err = capture(f.Name())
	return n, 0, warnings, err
}

package fsmeta

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/coffer-backup/coffer/internal/tree"
)

// settableAttrs are the FILE_ATTRIBUTE_* bits SetFileInformationByHandle
// sets: read-only, hidden, system, archive, temporary, offline and
// not-content-indexed. The others describe what the file is (directory,
// reparse point, sparse) or need other calls (compressed, encrypted).
const settableAttrs = 0x1 | 0x2 | 0x4 | 0x20 | 0x100 | 0x1000 | 0x2000

// unrestoredAttrs are the recorded bits a restore reports it did not set:
// compressed (0x800) and encrypted (0x4000).
const unrestoredAttrs = 0x800 | 0x4000

// Apply gives rel, which must already exist with n's type, n's metadata:
// the security descriptor a Windows backup recorded (owner and group only
// when the process may set them, else a warning), then attributes and the
// creation, modification and access times in one call. What Windows has no
// place for (a POSIX owner, extended attributes, file flags) is a warning
// wrapping ErrNotRestored; POSIX permission bits without the owner's write
// bit make a file read-only.
func (r *Root) Apply(rel string, n *tree.Node, _ ApplyOptions) ([]error, error) {
	if err := checkRel(rel); err != nil {
		return nil, r.fail("apply", rel, err)
	}
	fi, err := r.root.Lstat(filepath.FromSlash(rel))
	if err != nil {
		return nil, r.fail("apply", rel, err)
	}
	if t := modeType(fi.Mode()); t != n.Type {
		return nil, r.fail("apply", rel, fmt.Errorf("%w: found a %s, want a %s", ErrTypeMismatch, t, n.Type))
	}
	return r.apply(rel, n)
}

// ApplyFile is Apply for a regular file open for writing, rel's file.
func (r *Root) ApplyFile(_ *os.File, rel string, n *tree.Node, _ ApplyOptions) ([]error, error) {
	if n.Type != tree.File {
		return nil, r.fail("apply", rel, fmt.Errorf("%w: found a file, want a %s", ErrTypeMismatch, n.Type))
	}
	return r.apply(rel, n)
}

// modeType returns the node type of a file mode on Windows.
func modeType(m fs.FileMode) tree.NodeType {
	switch {
	case m&fs.ModeSymlink != 0:
		return tree.Symlink
	case m.IsDir():
		return tree.Dir
	case m.IsRegular():
		return tree.File
	}
	return 0
}

// apply sets n's metadata on rel through a handle that does not follow it.
func (r *Root) apply(rel string, n *tree.Node) ([]error, error) {
	real, meta, warnings := splitMeta(n.Xattrs)
	warnings = append(warnings, meta.unsupported(metaBirthTime, metaWinAttrs, metaWinSD)...)
	if len(real) > 0 {
		warnings = append(warnings, fmt.Errorf("%w: %d extended attributes: not supported on windows", ErrNotRestored, len(real)))
	}
	if meta.winSD == nil && n.UID|n.GID != 0 {
		warnings = append(warnings, fmt.Errorf("%w: owner %d:%d: not supported on windows", ErrNotRestored, n.UID, n.GID))
	}
	full := filepath.Join(r.dir, filepath.FromSlash(rel))
	const base = windows.FILE_WRITE_ATTRIBUTES | windows.READ_CONTROL | windows.WRITE_DAC
	ownerOK := true
	h, err := openHandle(full, base|windows.WRITE_OWNER)
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		ownerOK = false
		h, err = openHandle(full, base)
	}
	if err != nil {
		return warnings, r.fail("apply", rel, err)
	}
	defer func() { _ = windows.CloseHandle(h) }() // read or attributes set: nothing to flush
	if meta.winSD != nil {
		warnings = append(warnings, setSD(h, meta.winSD, ownerOK)...)
	}
	if err := setBasic(h, n, meta); err != nil {
		warnings = append(warnings, err)
	}
	for i, w := range warnings {
		warnings[i] = r.fail("apply", rel, w)
	}
	return warnings, nil
}

// setBasic sets the attributes and times of h (FILE_BASIC_INFO; a zero
// field is left unchanged). A failure is a warning, returned.
func setBasic(h windows.Handle, n *tree.Node, meta platformMeta) error {
	info := fileBasicInfo{LastWriteTime: toFiletime(n.MTime), LastAccessTime: toFiletime(n.MTime)}
	if meta.birthTime != nil {
		info.CreationTime = toFiletime(*meta.birthTime)
	}
	var unset error
	switch {
	case meta.winAttrs != nil:
		info.FileAttributes = *meta.winAttrs & settableAttrs
		if a := *meta.winAttrs & unrestoredAttrs; a != 0 {
			unset = fmt.Errorf("%w: file attributes %#x (compressed, encrypted)", ErrNotRestored, a)
		}
	case n.Type == tree.File && n.Mode&0o200 == 0:
		info.FileAttributes = windows.FILE_ATTRIBUTE_READONLY
	}
	if err := windows.SetFileInformationByHandle(h, windows.FileBasicInfo, (*byte)(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		return fmt.Errorf("%w: times and attributes: %w", ErrNotRestored, err)
	}
	return unset
}

// setSD sets the owner and group (if ownerOK) and the DACL of h from the
// recorded self-relative security descriptor blob. Each part not set is
// a warning.
func setSD(h windows.Handle, blob []byte, ownerOK bool) []error {
	sd, err := parseSD(blob)
	if err != nil {
		return []error{fmt.Errorf("%w: security descriptor: %w", ErrNotRestored, err)}
	}
	owner, _, _ := sd.Owner()
	group, _, _ := sd.Group()
	dacl, _, _ := sd.DACL()
	info := windows.SECURITY_INFORMATION(windows.DACL_SECURITY_INFORMATION)
	if control, _, err := sd.Control(); err == nil && control&windows.SE_DACL_PROTECTED != 0 {
		info |= windows.PROTECTED_DACL_SECURITY_INFORMATION
	}
	var warnings []error
	if ownerOK {
		err := windows.SetSecurityInfo(h, windows.SE_FILE_OBJECT, info|windows.OWNER_SECURITY_INFORMATION|windows.GROUP_SECURITY_INFORMATION, owner, group, dacl, nil)
		if err == nil {
			return nil
		}
		warnings = append(warnings, fmt.Errorf("%w: owner and group: %w", ErrNotRestored, err))
	} else {
		warnings = append(warnings, fmt.Errorf("%w: owner and group: setting them needs the restore privilege", ErrNotRestored))
	}
	if err := windows.SetSecurityInfo(h, windows.SE_FILE_OBJECT, info, nil, nil, dacl, nil); err != nil {
		warnings = append(warnings, fmt.Errorf("%w: access control list: %w", ErrNotRestored, err))
	}
	return warnings
}

// parseSD checks that blob is a self-relative security descriptor whose
// owner, group, SACL and DACL lie within it, before Windows reads it, and
// returns it in memory aligned for the API.
func parseSD(blob []byte) (*windows.SECURITY_DESCRIPTOR, error) {
	if err := checkSD(blob); err != nil {
		return nil, err
	}
	buf := make([]uint64, (len(blob)+7)/8)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(blob)), blob)
	sd := (*windows.SECURITY_DESCRIPTOR)(unsafe.Pointer(&buf[0]))
	if !sd.IsValid() {
		return nil, errors.New("invalid security descriptor")
	}
	return sd, nil
}

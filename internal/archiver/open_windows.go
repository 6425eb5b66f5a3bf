package archiver

import (
	"os"

	"golang.org/x/sys/windows"

	"github.com/coffer-backup/coffer/internal/fsmeta"
)

// openFile opens path for reading without following a reparse point
// (errSymlink if it is one).
func openFile(path string) (sourceFile, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	const share = windows.FILE_SHARE_READ | windows.FILE_SHARE_WRITE | windows.FILE_SHARE_DELETE
	h, err := windows.CreateFile(p, windows.GENERIC_READ, share, nil, windows.OPEN_EXISTING,
		windows.FILE_FLAG_OPEN_REPARSE_POINT|windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(h), path)
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err == nil && info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
		f.Close()
		return nil, errSymlink
	}
	return f, nil
}

// openAt is openFile of path, the entry name of d: Windows opens by path.
func openAt(_ *sharedDir, _, path string) (sourceFile, error) { return openFile(path) }

// openedFile is what a backup checks of a file it opened.
type openedFile struct {
	ino     uint64 // the file index
	regular bool
	dense   bool // never set here: the data ranges are always looked up
}

// statOpened returns the identity and type of f.
func statOpened(sf sourceFile) (openedFile, error) {
	f := sf.(*os.File)
	fi, err := f.Stat()
	if err != nil {
		return openedFile{}, err
	}
	id, err := fsmeta.StatFile(f)
	if err != nil {
		return openedFile{}, err
	}
	return openedFile{ino: id.Ino, regular: fi.Mode().IsRegular()}, nil
}

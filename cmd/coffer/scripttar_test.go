//go:build linux

package main

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// tarTypes are the letters tarlist prints for entry types, as ls -l does,
// with h for a hard link.
var tarTypes = map[byte]string{
	tar.TypeReg: "-", tar.TypeDir: "d", tar.TypeSymlink: "l", tar.TypeLink: "h",
	tar.TypeFifo: "p", tar.TypeChar: "c", tar.TypeBlock: "b",
}

// cmdTarList implements "tarlist FILE": it reads FILE as a tar archive with
// Go's archive/tar and prints one line per entry on stdout: its type
// letter, mode, size, name (quoted as %q when it is not printable ASCII),
// "-> TARGET" for links, and "xattr NAME" for each extended attribute.
// The archive must end properly.
func cmdTarList(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: tarlist FILE")
	}
	f, err := os.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return
		}
		ts.Check(err)
		n, err := io.Copy(io.Discard, tr)
		ts.Check(err)
		fmt.Fprintln(ts.Stdout(), tarLine(hdr, n))
	}
}

// tarLine describes one entry whose content was n bytes.
func tarLine(hdr *tar.Header, n int64) string {
	line := fmt.Sprintf("%s %04o %d %s", tarTypes[hdr.Typeflag], hdr.Mode, n, printable(hdr.Name))
	if hdr.Linkname != "" {
		line += " -> " + printable(hdr.Linkname)
	}
	var xattrs []string
	for k := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			xattrs = append(xattrs, name)
		}
	}
	slices.Sort(xattrs)
	for _, x := range xattrs {
		line += " xattr " + printable(x)
	}
	return line
}

// printable returns s, or s quoted if it holds anything but printable
// ASCII other than space.
func printable(s string) string {
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}

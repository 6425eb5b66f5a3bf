package dump

import (
	"archive/tar"
	"io"
	"testing"

	"github.com/coffer-backup/coffer/internal/tree"
)

// TestXattrsPlatformMeta checks that platform metadata, stored under
// reserved attribute names, is not written as attributes, with one warning
// for the whole archive, while real attributes are.
func TestXattrsPlatformMeta(t *testing.T) {
	var warned []error
	d := &dumper{tw: tar.NewWriter(io.Discard), warn: func(err error) { warned = append(warned, err) }}
	n := &tree.Node{Xattrs: []tree.Xattr{{Name: "\x00coffer.btime", Value: []byte{2}}, {Name: "user.a", Value: []byte("v")}}}
	for _, name := range []string{"a", "b"} {
		hdr := &tar.Header{Name: name}
		d.xattrs(hdr, n)
		if len(hdr.PAXRecords) != 1 || hdr.PAXRecords["SCHILY.xattr.user.a"] != "v" {
			t.Errorf("%s: PAX records %q, want only user.a", name, hdr.PAXRecords)
		}
	}
	if len(warned) != 1 {
		t.Errorf("warnings %v, want one for the archive", warned)
	}
}

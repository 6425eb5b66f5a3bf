//go:build linux || darwin

package fusefs

import (
	"context"
	"testing"

	"github.com/coffer-backup/coffer/internal/tree"
)

// TestXattrsHidePlatformMeta checks that the reserved names holding
// another platform's metadata are neither listed nor readable as
// attributes, while real attributes are.
func TestXattrsHidePlatformMeta(t *testing.T) {
	ctx := context.Background()
	it := &item{n: &tree.Node{Xattrs: []tree.Xattr{
		{Name: "\x00coffer.btime", Value: []byte{2}},
		{Name: "user.a", Value: []byte("va")},
	}}}
	buf := make([]byte, 64)
	n, errno := it.Listxattr(ctx, buf)
	if errno != 0 || string(buf[:n]) != "user.a\x00" {
		t.Errorf("Listxattr = %q, %v; want only user.a", buf[:n], errno)
	}
	if n, errno := it.Getxattr(ctx, "user.a", buf); errno != 0 || string(buf[:n]) != "va" {
		t.Errorf("Getxattr(user.a) = %q, %v", buf[:n], errno)
	}
	if _, errno := it.Getxattr(ctx, "\x00coffer.btime", buf); errno != errNoXattr {
		t.Errorf("Getxattr of a reserved name: errno %v, want %v", errno, errNoXattr)
	}
}

//go:build !linux

package keys

// adviseHugePages does nothing where the kernel takes no advice on
// transparent huge pages; a is faulted in page by page.
func adviseHugePages([]byte) {}

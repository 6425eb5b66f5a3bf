//go:build !linux

package repo

// adviseHugePages does nothing where the kernel takes no such advice.
func adviseHugePages([]byte) {}

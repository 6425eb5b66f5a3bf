//go:build !linux

package keys

// adviseHugePages does nothing where the kernel takes no such advice (and
// in a browser, GOOS=js, where package keys must build for web sessions).
func adviseHugePages([]byte) {}

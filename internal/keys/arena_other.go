//go:build !unix

package keys

// adviseHugePages does nothing where there is no madvise (GOOS=js, the
// web app's WebAssembly): the arena is then faulted in 4 KiB at a time.
func adviseHugePages([]byte) {}

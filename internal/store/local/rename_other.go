//go:build !linux

package local

// renameNoReplace publishes oldpath as newpath without replacing an existing
// newpath; outside Linux it relies on link(2).
func renameNoReplace(oldpath, newpath string) error {
	return linkNoReplace(oldpath, newpath)
}

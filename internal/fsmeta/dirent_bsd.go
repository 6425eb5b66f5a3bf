//go:build darwin || freebsd

package fsmeta

import "os"

// readDir returns the names of the entries of the directory open as f,
// without "." and "..", and no types: Dir.Regular is false for every
// entry, so each is stated by the walker.
func readDir(f *os.File) ([]string, []bool, error) {
	names, err := f.Readdirnames(-1)
	return names, nil, err
}

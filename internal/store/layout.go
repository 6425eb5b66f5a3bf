package store

import "path"

// TempDir is the directory of a store that holds objects being written
// (docs/format.md §4.3); no object of any kind is ever in it.
const TempDir = "tmp"

// ObjectDir returns the directory, relative to the store root and with
// slashes, that holds kind/name in the layout every directory-like backend
// shares (docs/format.md §4.3): the kind, and for packs, the only numerous
// kind, a shard named by the first two characters of the name. kind and
// name must be valid (CheckName); the result then never leaves the kind's
// directory.
func ObjectDir(kind Kind, name string) string {
	if kind == Packs {
		return path.Join(string(kind), name[:min(2, len(name))])
	}
	return string(kind)
}

// ObjectPath returns the path of kind/name relative to the store root, with
// slashes: a file name in the local store, a key after the prefix in S3.
func ObjectPath(kind Kind, name string) string {
	return path.Join(ObjectDir(kind, name), name)
}

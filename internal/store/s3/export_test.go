package s3

import "github.com/coffer-backup/coffer/internal/store"

// Key exposes the key of kind/name in a store at l.
func Key(l Location, kind store.Kind, name string) string { return l.key(kind, name) }

package open

import (
	"os"
	"path/filepath"
	"slices"
)

// AccountStores returns, for a local location that is a server's data
// directory rather than a store, the stores of the accounts it keeps:
// each DIR/accounts/ACCOUNT that holds a config object (docs/api.md, the
// layout of `coffer serve --data`), in name order. It returns none for a
// server or an S3 location (a server lists its accounts to no one; a
// server's bucket is not looked into), or a directory without accounts.
func AccountStores(location string) []string {
	if IsRemote(location) || IsS3(location) {
		return nil
	}
	dir, err := localPath(location)
	if err != nil {
		return nil
	}
	entries, err := os.ReadDir(filepath.Join(dir, "accounts"))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		p := filepath.Join(dir, "accounts", e.Name())
		if fi, err := os.Stat(filepath.Join(p, "config", "config")); err == nil && fi.Mode().IsRegular() {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

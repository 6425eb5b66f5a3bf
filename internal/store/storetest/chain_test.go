package storetest

import (
	"testing"

	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
)

// TestLocalChain runs the chain suite against a local store, whose chain
// is kept as objects (store.ChainOf).
func TestLocalChain(t *testing.T) {
	RunChain(t, func(t *testing.T, _ ChainAccount) store.Chain {
		s, err := local.Create(t.TempDir() + "/store")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return store.ChainOf(s)
	})
}

package webui

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBuildReproducible rebuilds the WebAssembly and the Worker script
// with scripts/webwasm.sh and requires the bytes this package embeds: the
// committed build is the source's, and the hash `coffer version` prints
// can be checked by anyone with the same Go toolchain. After changing
// what the wasm builds from, run scripts/webwasm.sh (make webwasm).
func TestBuildReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the WebAssembly (minutes without a warm cache)")
	}
	dir := t.TempDir()
	cmd := exec.Command("sh", "../../scripts/webwasm.sh", dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scripts/webwasm.sh: %v", err)
	}
	for _, name := range []string{wasmName, "worker.js"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := static.ReadFile("static/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("rebuilt %s (%d bytes) differs from the embedded one (%d bytes): run scripts/webwasm.sh and commit", name, len(got), len(want))
		}
	}
}

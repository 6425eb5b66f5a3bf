package home

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/coffer-backup/coffer/internal/atomicfile"
	"os"
	"path/filepath"
	"regexp"

	"github.com/coffer-backup/coffer/internal/store"
)

// maxChainFile bounds a saved chain: 65,536 entries of the largest size.
const maxChainFile = 1 << 16 * (4 + store.MaxChainEntry)

var accountRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

func (h *Home) chainPath(account string) (string, error) {
	if !accountRE.MatchString(account) {
		return "", fmt.Errorf("malformed account ID %q", account)
	}
	return filepath.Join(h.Dir, "chains", account), nil
}

// Chain returns the device-chain entries of account this device last saved
// (after verifying them), or nil if it has none. The caller verifies them
// again: the file is this device's own, but nothing is trusted unparsed.
func (h *Home) Chain(account string) ([][]byte, error) {
	path, err := h.chainPath(account)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the saved device chain: %w", err)
	}
	entries, err := parseChainFile(b)
	if err != nil {
		return nil, fmt.Errorf("saved device chain %s: %w", path, err)
	}
	return entries, nil
}

// parseChainFile splits a saved chain into its entries.
func parseChainFile(b []byte) ([][]byte, error) {
	if len(b) > maxChainFile {
		return nil, fmt.Errorf("larger than %d bytes", maxChainFile)
	}
	entries := [][]byte{}
	for len(b) > 0 {
		if len(b) < 4 || uint64(binary.BigEndian.Uint32(b)) > uint64(min(len(b)-4, store.MaxChainEntry)) {
			return nil, fmt.Errorf("damaged at entry %d", len(entries))
		}
		n := binary.BigEndian.Uint32(b)
		entries = append(entries, b[4:4+n])
		b = b[4+n:]
	}
	return entries, nil
}

// marshalChainFile is the inverse of parseChainFile.
func marshalChainFile(entries [][]byte) []byte {
	var b []byte
	for _, e := range entries {
		b = binary.BigEndian.AppendUint32(b, uint32(len(e)))
		b = append(b, e...)
	}
	return b
}

// SaveChain replaces the saved device chain of account, atomically: each
// entry as a 4-byte big-endian length and its bytes.
func (h *Home) SaveChain(account string, entries [][]byte) error {
	path, err := h.chainPath(account)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, marshalChainFile(entries), 0o600)
}

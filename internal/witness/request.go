// Package witness is a C2SP tlog-witness for Coffer's transparency log
// (docs/transparency.md §T.4): it cosigns a log's checkpoint only if it is
// consistent with the last one it cosigned for that origin, which it keeps
// on disk, so no log can show it two different histories. It also holds
// the client the log server uses to ask witnesses for cosignatures.
package witness

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/coffer-backup/coffer/internal/tlog"
)

// Limits of the add-checkpoint request (docs/transparency.md §T.4).
const (
	// MaxProofLines bounds the consistency proof, as C2SP requires.
	MaxProofLines = 63
	// MaxRequestSize bounds a whole request body: the old-size line, the
	// proof lines, the blank line and the signed checkpoint.
	MaxRequestSize = len("old 9223372036854775807\n") + MaxProofLines*45 + 1 + tlog.MaxNoteSize
)

// FormatRequest writes an add-checkpoint request body: "old <size>", one
// base64 hash per line, a blank line, then the signed checkpoint.
func FormatRequest(oldSize uint64, proof []tlog.Hash, signed []byte) []byte {
	b := fmt.Appendf(nil, "old %d\n", oldSize)
	for _, h := range proof {
		b = append(append(b, base64.StdEncoding.EncodeToString(h[:])...), '\n')
	}
	return append(append(b, '\n'), signed...)
}

// ParseRequest decodes an add-checkpoint request body, accepting only what
// FormatRequest writes with at most MaxProofLines hashes and a non-empty
// checkpoint; the checkpoint itself is left for the caller to verify.
func ParseRequest(body []byte) (oldSize uint64, proof []tlog.Hash, signed []byte, err error) {
	if len(body) > MaxRequestSize {
		return 0, nil, nil, fmt.Errorf("request of %d bytes (at most %d): %w", len(body), MaxRequestSize, tlog.ErrMalformed)
	}
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	size, found := strings.CutPrefix(string(line), "old ")
	if !ok || !found {
		return 0, nil, nil, fmt.Errorf("request does not start with an old size line: %w", tlog.ErrMalformed)
	}
	if oldSize, err = tlog.ParseSize(size); err != nil {
		return 0, nil, nil, fmt.Errorf("old size: %w", err)
	}
	for {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok || len(line) == 0 {
			break
		}
		h, err := base64.StdEncoding.Strict().DecodeString(string(line))
		if err != nil || len(h) != len(tlog.Hash{}) || len(proof) == MaxProofLines {
			return 0, nil, nil, fmt.Errorf("proof line %d is not base64 of 32 bytes, or one too many: %w", len(proof)+1, tlog.ErrMalformed)
		}
		proof = append(proof, tlog.Hash(h))
	}
	if !ok || len(rest) == 0 {
		return 0, nil, nil, fmt.Errorf("request has no blank line and checkpoint: %w", tlog.ErrMalformed)
	}
	return oldSize, proof, rest, nil
}

package server

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/coffer-backup/coffer/internal/atomicfile"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/coffer-backup/coffer/internal/tlog"
)

// The log key files in the data directory (docs/transparency.md §T.2.2).
const (
	logKeyFile  = "log.key"  // the signer key, secret (0600)
	logVKeyFile = "log.vkey" // the verifier key, public (0644)
	// maxLogKeyFile bounds the key file read at start.
	maxLogKeyFile = 1 << 10
)

// logKey is the log's note key: its signer and verifier key text.
type logKey struct {
	signer note.Signer
	vkey   string
}

// defaultOrigin is the origin of a log key made without --log-origin:
// "coffer.log/" and 16 random hex digits.
func defaultOrigin() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails
	return "coffer.log/" + hex.EncodeToString(b[:])
}

// loadLogKey reads DATA/log.key, or makes it with the given origin (a
// random one if empty) if there is none, and (re)writes DATA/log.vkey from
// it. An origin other than the key's is refused: a log's origin never
// changes.
func loadLogKey(dir, origin string) (*logKey, error) {
	k, err := loadLogKeyFile(filepath.Join(dir, logKeyFile), origin)
	if err != nil {
		return nil, err
	}
	vpath := filepath.Join(dir, logVKeyFile)
	if old, err := readSmall(vpath); err != nil || strings.TrimSpace(old) != k.vkey {
		if err := atomicfile.Write(vpath, []byte(k.vkey+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("log verifier key %s: %w", vpath, err)
		}
	}
	return k, nil
}

// loadLogKeyFile reads the log key file at path (the format of
// DATA/log.key), or makes it with the given origin (a random one if
// empty) if there is none. An origin other than the key's is refused.
func loadLogKeyFile(path, origin string) (*logKey, error) {
	skey, err := readSmall(path)
	if errors.Is(err, fs.ErrNotExist) {
		skey, err = createLogKey(path, origin)
	}
	if err != nil {
		return nil, fmt.Errorf("log key %s: %w", path, err)
	}
	k, err := parseLogKey(skey)
	if err != nil {
		return nil, fmt.Errorf("log key %s: %w", path, err)
	}
	if origin != "" && origin != k.signer.Name() {
		return nil, fmt.Errorf("log key %s is for origin %q, not %q: a log's origin cannot change", path, k.signer.Name(), origin)
	}
	return k, nil
}

// readSmall reads a key file of at most maxLogKeyFile bytes.
func readSmall(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLogKeyFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxLogKeyFile {
		return "", fmt.Errorf("more than %d bytes", maxLogKeyFile)
	}
	return string(b), nil
}

// createLogKey makes a new log key and stores it at path, unless another
// process got there first; it returns the key stored.
func createLogKey(path, origin string) (string, error) {
	if origin == "" {
		origin = defaultOrigin()
	}
	skey, _, err := tlog.GenerateLogKey(origin)
	if err != nil {
		return "", err
	}
	err = atomicfile.Create(path, []byte(skey+"\n"), 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readSmall(path)
	}
	return skey, err
}

// parseLogKey parses a log signer key and derives its verifier key text,
// checking that the two agree. Its errors never contain the key.
func parseLogKey(skey string) (*logKey, error) {
	skey = strings.TrimSpace(skey)
	signer, err := tlog.NewLogSigner(skey)
	if err != nil {
		return nil, err
	}
	// PRIVATE+KEY+<name>+<key ID>+<base64(0x01 || seed)> (§T.2.2); the
	// name has no '+', the base64 may.
	f := strings.SplitN(skey, "+", 5)
	seed, err := base64.StdEncoding.DecodeString(f[len(f)-1])
	if err != nil || len(seed) != 1+ed25519.SeedSize {
		return nil, fmt.Errorf("log signing key is not an Ed25519 note key: %w", tlog.ErrMalformed)
	}
	pub := ed25519.NewKeyFromSeed(seed[1:]).Public().(ed25519.PublicKey)
	clear(seed)
	vkey := fmt.Sprintf("%s+%08x+%s", signer.Name(), signer.KeyHash(), base64.StdEncoding.EncodeToString(append([]byte{0x01}, pub...)))
	v, err := tlog.NewLogVerifier(vkey)
	if err != nil {
		return nil, err
	}
	msg := []byte("coffer log key check\n")
	sig, err := signer.Sign(msg)
	if err != nil || v.KeyHash() != signer.KeyHash() || !v.Verify(msg, sig) {
		return nil, fmt.Errorf("log signing key does not match its own key ID: %w", tlog.ErrMalformed)
	}
	return &logKey{signer: signer, vkey: vkey}, nil
}

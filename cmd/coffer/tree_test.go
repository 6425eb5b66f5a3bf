//go:build linux

package main

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// compareTrees reports the first difference between the trees at a and b:
// a name present in one only, or a differing type, permission, content,
// link target or modification time.
func compareTrees(a, b string) error {
	seen := make(map[string]bool)
	err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(a, p)
		if err != nil {
			return err
		}
		seen[rel] = true
		return compareItem(p, filepath.Join(b, rel), rel)
	})
	if err != nil {
		return err
	}
	return filepath.WalkDir(b, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(b, p)
		if err == nil && !seen[rel] {
			err = fmt.Errorf("%s: only in %s", rel, b)
		}
		return err
	})
}

func compareItem(pa, pb, rel string) error {
	fa, err := os.Lstat(pa)
	if err != nil {
		return err
	}
	fb, err := os.Lstat(pb)
	if err != nil {
		return fmt.Errorf("%s: only in %s", rel, filepath.Dir(pa))
	}
	if fa.Mode() != fb.Mode() {
		return fmt.Errorf("%s: mode %v, restored %v", rel, fa.Mode(), fb.Mode())
	}
	if !fa.ModTime().Equal(fb.ModTime()) {
		return fmt.Errorf("%s: modified %v, restored %v", rel, fa.ModTime(), fb.ModTime())
	}
	sa, sb := fa.Sys().(*syscall.Stat_t), fb.Sys().(*syscall.Stat_t)
	if sa.Uid != sb.Uid || sa.Gid != sb.Gid {
		return fmt.Errorf("%s: owner %d:%d, restored %d:%d", rel, sa.Uid, sa.Gid, sb.Uid, sb.Gid)
	}
	switch {
	case fa.Mode()&fs.ModeSymlink != 0:
		ta, err1 := os.Readlink(pa)
		tb, err2 := os.Readlink(pb)
		if err1 != nil || err2 != nil || ta != tb {
			return fmt.Errorf("%s: link to %q, restored to %q (%v, %v)", rel, ta, tb, err1, err2)
		}
	case fa.Mode().IsRegular():
		ca, err := os.ReadFile(pa)
		if err != nil {
			return err
		}
		cb, err := os.ReadFile(pb)
		if err != nil {
			return err
		}
		if !bytes.Equal(ca, cb) {
			return fmt.Errorf("%s: contents differ (%d and %d bytes)", rel, len(ca), len(cb))
		}
	}
	return nil
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// writeRandom writes size bytes of an AES-CTR key stream keyed by seed:
// incompressible, reproducible, and fast even under the race detector.
func writeRandom(name string, size int64, seed uint64) error {
	var key [16]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return err
	}
	stream := cipher.NewCTR(block, make([]byte, aes.BlockSize))
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for size > 0 && err == nil {
		b := buf[:min(size, int64(len(buf)))]
		clear(b)
		stream.XORKeyStream(b, b)
		_, err = f.Write(b)
		size -= int64(len(b))
	}
	return errors.Join(err, f.Close())
}

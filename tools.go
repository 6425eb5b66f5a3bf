//go:build tools

// This file pins modules the project depends on before every package that
// imports them exists, so that parallel work never edits go.mod at once.
package tools

import (
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
	_ "modernc.org/sqlite"
)

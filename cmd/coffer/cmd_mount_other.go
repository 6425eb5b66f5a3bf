//go:build !linux && !darwin

package main

import (
	"context"
	"fmt"
	"runtime"
)

// runMount refuses: internal/fusefs serves FUSE on Linux and macOS only.
func runMount(context.Context, *env, []string) error {
	return fmt.Errorf("coffer mount is available on Linux and macOS only, not on %s", runtime.GOOS)
}

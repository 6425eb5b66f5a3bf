//go:build !linux

package main

import (
	"context"
	"fmt"
	"runtime"
)

// runMount refuses: internal/fusefs serves FUSE on Linux only.
func runMount(context.Context, *env, []string) error {
	return fmt.Errorf("coffer mount is available on Linux only, not on %s", runtime.GOOS)
}

//go:build linux || darwin

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/coffer-backup/coffer/internal/fusefs"
)

type mountResult struct {
	Mountpoint string `json:"mountpoint"`
	Snapshots  int    `json:"snapshots"`
}

// runMount serves the snapshots the device chain records as a read-only
// file system at MOUNTPOINT until SIGINT or SIGTERM, then unmounts.
func runMount(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return usageError{"usage: coffer mount MOUNTPOINT"}
	}
	dir, err := filepath.Abs(args[0])
	if err != nil {
		return err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("mount point %s is not a directory", dir)
	}
	s, snaps, err := e.openSnapshots(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.repo.LoadIndex(ctx); err != nil {
		return err
	}
	blobs, err := s.repo.NewWindowReader(ctx, readWindow, readWindows)
	if err != nil {
		return err
	}
	fsys := fusefs.New(fusefs.Options{Snapshots: snaps, Blobs: blobs, Warn: e.warner(),
		UID: uint32(os.Getuid()), GID: uint32(os.Getgid())})
	err = fusefs.Serve(ctx, dir, fsys, func() { e.mounted(mountResult{dir, len(snaps)}) })
	if errors.Is(err, fusefs.ErrNoFuse) {
		return withHint(err, "install fuse3 (apt-get install fuse3) and check that /dev/fuse exists")
	}
	return err
}

// mounted tells the user the file system is ready: a JSON object with
// --json, else a message on stderr.
func (e *env) mounted(r mountResult) {
	if e.o.json {
		_ = e.emit(r, func(io.Writer) {})
		return
	}
	e.say("mounted %d snapshots at %s (read-only); Ctrl-C or SIGTERM unmounts", r.Snapshots, r.Mountpoint)
}

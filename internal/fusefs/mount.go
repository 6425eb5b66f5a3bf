//go:build linux || darwin

package fusefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// cacheTimeout is how long the kernel may keep names and attributes: a
// snapshot never changes while mounted.
const cacheTimeout = time.Hour

// ErrNoFuse is wrapped when the system cannot mount FUSE file systems.
var ErrNoFuse = errors.New("FUSE is not available")

// Server is a mounted file system.
type Server struct {
	srv *fuse.Server
	dir string
}

// Mount mounts fsys read-only at dir, an existing directory, and serves it
// until it is unmounted. On Linux it needs /dev/fuse and, unless the caller
// is root, fusermount3 (package fuse3); on macOS, macFUSE (untested).
func Mount(dir string, fsys *FS) (*Server, error) {
	if err := available(); err != nil {
		return nil, err
	}
	timeout := cacheTimeout
	opts := &fs.Options{
		EntryTimeout: &timeout, AttrTimeout: &timeout, NegativeTimeout: &timeout,
		NullPermissions: true, // modes are as recorded, 0000 included
		MountOptions: fuse.MountOptions{
			FsName: "coffer", Name: "coffer", Options: []string{"ro"},
			DirectMount:  os.Geteuid() == 0,
			MaxReadAhead: 1 << 20,
			Logger:       log.New(io.Discard, "", 0),
		},
	}
	srv, err := fs.Mount(dir, fsys.Root(), opts)
	if err != nil {
		return nil, fmt.Errorf("mounting at %s: %w", dir, err)
	}
	return &Server{srv: srv, dir: dir}, nil
}

// Wait returns once the file system is unmounted, by Unmount or from
// outside (fusermount3 -u, umount).
func (s *Server) Wait() { s.srv.Wait() }

// Unmount unmounts the file system. If the mount point is busy (a shell's
// working directory, an open file), it detaches it instead: the mount
// point is free at once, and processes still inside get errors.
func (s *Server) Unmount() error {
	err := s.srv.Unmount()
	if err == nil {
		return nil
	}
	if derr := detach(s.dir); derr != nil {
		return fmt.Errorf("unmounting %s: %w (detaching: %w)", s.dir, err, derr)
	}
	return nil
}

// Serve mounts fsys at dir, calls ready, and serves until ctx is done (then
// unmounts) or the file system is unmounted from outside.
func Serve(ctx context.Context, dir string, fsys *FS, ready func()) error {
	s, err := Mount(dir, fsys)
	if err != nil {
		return err
	}
	ready()
	done := make(chan struct{})
	go func() { s.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	if err := s.Unmount(); err != nil {
		return err
	}
	select {
	case <-done:
	case <-time.After(2 * time.Second): // detached while in use: its users keep it
	}
	return nil
}

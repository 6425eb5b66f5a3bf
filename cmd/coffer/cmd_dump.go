package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sync"

	"github.com/coffer-backup/coffer/internal/dump"
	"github.com/coffer-backup/coffer/internal/filedata"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/termsafe"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// dump and mount read packs in aligned windows as restores do
// (docs/format.md §10), keeping as many.
const (
	readWindow  = 4 << 20
	readWindows = 8
)

// warner returns a function printing warnings, safe to call from
// concurrent goroutines (the mounted file system's requests).
func (e *env) warner() func(error) {
	var mu sync.Mutex
	return func(err error) {
		mu.Lock()
		defer mu.Unlock()
		e.say("warning: %v", err)
	}
}

// runDump writes the item at PATH of snapshot SNAP to stdout: a regular
// file's bytes, anything else (a directory, a link, "/" for everything)
// as a tar archive.
func runDump(ctx context.Context, e *env, args []string) error {
	if len(args) != 2 {
		return usageError{"usage: coffer dump SNAP PATH"}
	}
	s, sn, err := e.openSnapshot(ctx, args[0])
	if err != nil {
		return err
	}
	defer s.Close()
	blobs, err := s.repo.NewWindowReader(ctx, readWindow, readWindows)
	if err != nil {
		return err
	}
	n, err := treewalk.Lookup(ctx, blobs, sn.Tree, args[1])
	if err == nil && n.Type == tree.File {
		return dumpFile(ctx, blobs, n, e.stdout)
	}
	if err == nil {
		err = dump.Tar(ctx, blobs, treewalk.RootOf(sn), args[1], e.stdout, e.warner())
	}
	return notInSnapshot(err, args[1], sn)
}

// dumpFile writes a regular file's content.
func dumpFile(ctx context.Context, l filedata.Loader, n *tree.Node, w io.Writer) error {
	f, err := filedata.Open(l, n)
	if err == nil {
		_, err = f.WriteTo(ctx, w)
	}
	return err
}

// notInSnapshot words a lookup's failure as ls does.
func notInSnapshot(err error, p string, sn snapshot.Stored) error {
	if errors.Is(err, treewalk.ErrNotFound) {
		return fmt.Errorf("%s: no such path in snapshot %s", termsafe.Name(path.Clean("/"+p)), sn.ID.Short())
	}
	return err
}

//go:build linux

package fusefs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/fusefs"
	"github.com/coffer-backup/coffer/internal/fusefs/fusetest"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/testtree"
	"github.com/coffer-backup/coffer/internal/testtree/testrepo"
)

var ctx = context.Background()

// warnings collects what a file system reports.
type warnings struct {
	mu   sync.Mutex
	errs []error
}

func (w *warnings) add(err error) { w.mu.Lock(); w.errs = append(w.errs, err); w.mu.Unlock() }

func (w *warnings) get() []error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]error(nil), w.errs...)
}

// mount mounts the snapshots of r in a new directory until the test ends,
// reading through a freshly opened repository's windowed reader.
func mount(t *testing.T, r *testrepo.Repo, snaps []snapshot.Stored, opts fusefs.Options) (string, *warnings) {
	t.Helper()
	fusetest.Need(t)
	wr, err := r.Reopen(t).NewWindowReader(ctx, 4<<20, 8)
	if err != nil {
		t.Fatal(err)
	}
	w := &warnings{}
	opts.Snapshots, opts.Blobs, opts.Warn = snaps, wr, w.add
	dir := t.TempDir()
	srv, err := fusefs.Mount(dir, fusefs.New(opts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
		srv.Wait()
	})
	return dir, w
}

func backup(t *testing.T, r *testrepo.Repo, opts archiver.Options, src string) snapshot.Stored {
	t.Helper()
	_, res := r.Backup(t, opts, src)
	if len(res.Warnings) > 0 {
		t.Fatalf("backup warnings: %v", res.Warnings)
	}
	return r.Snapshot(t, res.Snapshot)
}

// TestMountReadsEveryFile reads every item of random trees through the
// mount and compares bytes and metadata with the originals: type, name
// bytes, mode bits, owner, nanosecond times, sizes, symbolic-link
// targets, hard-link groups, device numbers, extended attributes, and
// the data ranges of sparse files (SEEK_DATA and SEEK_HOLE).
func TestMountReadsEveryFile(t *testing.T) {
	for _, tc := range []struct {
		seed uint64
		opts testtree.Options
	}{
		{1, testtree.Options{}},
		{2, testtree.Options{Privileged: true, Entries: 400, MaxDepth: 10}},
		{3, testtree.Options{Privileged: true, Entries: 60, MaxSize: 3 << 20, MaxHoles: 64 << 20}},
	} {
		t.Run(fmt.Sprint(tc.seed), func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "src")
			testtree.Random(t, src, tc.seed, tc.opts)
			r := testrepo.New(t)
			sn := backup(t, r, archiver.Options{}, src)
			dir, w := mount(t, r, []snapshot.Stored{sn}, fusefs.Options{})
			testtree.Compare(t, src, filepath.Join(dir, "snapshots", sn.ID.String()[:8], "src"))
			if errs := w.get(); len(errs) > 0 {
				t.Errorf("warnings: %v", errs)
			}
		})
	}
}

// TestMountLayout checks the directories around the snapshots: IDs,
// latest, hosts and tags, names of snapshots that share a time, and what
// cannot be a directory name.
func TestMountLayout(t *testing.T) {
	r := testrepo.New(t)
	src := filepath.Join(t.TempDir(), "data")
	testtree.Build(t, src, testtree.Spec{{Path: "f", Data: []byte("one")}})
	a := backup(t, r, archiver.Options{Hostname: "alpha", Tags: []string{"daily", "x/y"}}, src)
	c := at(backup(t, r, archiver.Options{Hostname: "alpha"}, src), a.Time)
	testtree.Build(t, src, testtree.Spec{{Path: "g", Data: []byte("two")}})
	b := at(backup(t, r, archiver.Options{Hostname: "beta", Tags: []string{"daily"}}, src), a.Time.Add(time.Hour))
	dir, w := mount(t, r, []snapshot.Stored{a, b, c}, fusefs.Options{})
	ida, idb, idc := a.ID.String()[:8], b.ID.String()[:8], c.ID.String()[:8]
	latestAlpha := slices.MaxFunc([]snapshot.Stored{a, c}, func(x, y snapshot.Stored) int { return bytes.Compare(x.ID[:], y.ID[:]) })
	links := map[string]string{
		"snapshots/latest":                       idb,
		"hosts/alpha/" + timeName(a) + "-" + ida: "../../snapshots/" + ida,
		"hosts/alpha/" + timeName(c) + "-" + idc: "../../snapshots/" + idc,
		"hosts/alpha/latest":                     timeName(a) + "-" + latestAlpha.ID.String()[:8],
		"hosts/beta/" + timeName(b):              "../../snapshots/" + idb,
		"tags/daily/" + timeName(a):              "../../snapshots/" + ida,
		"tags/daily/latest":                      timeName(b),
	}
	for p, want := range links {
		if got, err := os.Readlink(filepath.Join(dir, p)); err != nil || got != want {
			t.Errorf("%s -> %q, %v; want %q", p, got, err, want)
		}
	}
	for p, want := range map[string]string{
		"hosts/alpha/latest/data/f": "one", "tags/daily/latest/data/g": "two", "snapshots/latest/data/f": "one",
	} {
		if got, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", p, got, err, want)
		}
	}
	for p, want := range map[string][]string{
		".": {"hosts", "snapshots", "tags"}, "tags": {"daily"}, "snapshots": {ida, idb, idc, "latest"},
		"hosts/beta": {timeName(b), "latest"},
	} {
		if got := names(t, filepath.Join(dir, p)); !slices.Equal(got, sorted(want)) {
			t.Errorf("%s lists %q, want %q", p, got, sorted(want))
		}
	}
	if errs := w.get(); len(errs) != 1 || !strings.Contains(errs[0].Error(), `tag "x/y" cannot be a file name`) {
		t.Errorf("warnings %v, want one about tag x/y", errs)
	}
	if err := os.WriteFile(filepath.Join(dir, "snapshots/latest/data/new"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("writing: %v, want EROFS", err)
	}
}

// at returns s as if taken at time tm: the mount takes a snapshot's time
// from the record it is given.
func at(s snapshot.Stored, tm time.Time) snapshot.Stored {
	sn := *s.Snapshot
	sn.Time = tm
	s.Snapshot = &sn
	return s
}

func timeName(s snapshot.Stored) string { return s.Time.Local().Format("2006-01-02T15:04:05Z07:00") }

func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return sorted(out)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestMountRefusesHostileSnapshot mounts a snapshot whose 41 trees expand
// to 2^42 items: listing it fails at once, in little memory, with the
// budget error reported, while an honest snapshot beside it reads.
func TestMountRefusesHostileSnapshot(t *testing.T) {
	r := testrepo.New(t)
	doubling := r.DoublingSnapshot(t, 40)
	src := filepath.Join(t.TempDir(), "ok")
	testtree.Build(t, src, testtree.Spec{{Path: "f", Data: []byte("honest")}})
	honest := backup(t, r, archiver.Options{}, src)
	dir, w := mount(t, r, []snapshot.Stored{doubling, honest}, fusefs.Options{})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := os.ReadDir(filepath.Join(dir, "snapshots", doubling.ID.String()[:8]))
	_, err2 := os.Stat(filepath.Join(dir, "snapshots", doubling.ID.String()[:8], "a", "a"))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, unix.EIO) || !errors.Is(err2, unix.EIO) {
		t.Errorf("listing a hostile snapshot: %v, %v; want EIO", err, err2)
	}
	if elapsed, alloc := time.Since(start), after.TotalAlloc-before.TotalAlloc; elapsed > 10*time.Second || alloc > 64<<20 {
		t.Errorf("refusing took %v and %d MB", elapsed, alloc>>20)
	}
	errs := w.get()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "tree walk exceeds budget") {
		t.Errorf("warnings %v, want one budget error", errs)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "snapshots", honest.ID.String()[:8], "ok", "f")); err != nil || string(b) != "honest" {
		t.Errorf("the honest snapshot: %q, %v", b, err)
	}
}

// TestServeUnmountsWhenDone cancels Serve while a directory in the mount
// is open: the mount point is released all the same. (A child process
// started into the mount would do, but the test serves the mount itself,
// and forking into a FUSE mount one serves can deadlock.)
func TestServeUnmountsWhenDone(t *testing.T) {
	fusetest.Need(t)
	r := testrepo.New(t)
	src := filepath.Join(t.TempDir(), "d")
	testtree.Build(t, src, testtree.Spec{{Path: "sub/f", Data: []byte("x")}})
	sn := backup(t, r, archiver.Options{}, src)
	wr, err := r.Reopen(t).NewWindowReader(ctx, 4<<20, 8)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cctx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- fusefs.Serve(cctx, dir, fusefs.New(fusefs.Options{Snapshots: []snapshot.Stored{sn}, Blobs: wr}), func() { close(ready) })
	}()
	<-ready
	busy, err := os.Open(filepath.Join(dir, "snapshots", sn.ID.String()[:8], "d", "sub"))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
	}
	if fusetest.Mounted(t, dir) {
		t.Errorf("%s is still mounted", dir)
	}
}

// TestMountSplitListing lists, through the mount, a directory whose
// entries the archiver split over several tree blobs: the kernel asks for
// it in many requests, and every name comes once, in order.
func TestMountSplitListing(t *testing.T) {
	src := filepath.Join(t.TempDir(), "big")
	var spec testtree.Spec
	var want []string
	pad := strings.Repeat("n", 240)
	for i := range 4000 {
		name := fmt.Sprintf("%s%05d", pad, i)
		spec = append(spec, testtree.Entry{Path: name})
		want = append(want, name)
	}
	testtree.Build(t, src, spec)
	r := testrepo.New(t)
	sn := backup(t, r, archiver.Options{}, src)
	if n := len(r.Node(t, sn.Tree, "big").Subtrees); n < 2 {
		t.Fatalf("the listing takes %d tree blob, want several", n)
	}
	dir, w := mount(t, r, []snapshot.Stored{sn}, fusefs.Options{})
	f, err := os.Open(filepath.Join(dir, "snapshots", sn.ID.String()[:8], "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := f.Readdirnames(-1) // in the order listed, unsorted
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed %d names, want %d in order", len(got), len(want))
	}
	if _, err := os.Stat(filepath.Join(dir, "snapshots", sn.ID.String()[:8], "big", want[3999])); err != nil {
		t.Errorf("looking up the last name: %v", err)
	}
	if errs := w.get(); len(errs) > 0 {
		t.Errorf("warnings: %v", errs)
	}
}

package main

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/restorer"
	"github.com/coffer-backup/coffer/internal/termsafe"
)

// counters is what a progress line shows: items and bytes done, and the
// expected total bytes when known (0: unknown).
type counters func() (items, bytes, total int64)

// startProgress redraws a one-line status on stderr while a command runs,
// only when stderr is a terminal. The returned function stops and erases it.
func (e *env) startProgress(c counters) (stop func()) {
	if !e.interactive() {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				e.drawErr("\r\x1b[K")
				return
			case <-t.C:
				e.drawErr("\r\x1b[K" + progressLine(c, time.Since(start)))
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func progressLine(c counters, elapsed time.Duration) string {
	items, bytes, total := c()
	rate := float64(bytes) / max(elapsed.Seconds(), 0.001)
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %d items, %s, %s/s", elapsed.Truncate(time.Second), items, humanBytes(bytes), humanBytes(int64(rate)))
	if total > 0 && rate > 0 && bytes <= total {
		eta := time.Duration(float64(total-bytes) / rate * float64(time.Second))
		fmt.Fprintf(&b, ", %.0f%%, ETA %s", 100*float64(bytes)/float64(total), eta.Truncate(time.Second))
	}
	return b.String()
}

func backupProgress(s *archiver.Stats) counters {
	return func() (int64, int64, int64) {
		return s.FilesNew.Load() + s.FilesChanged.Load() + s.FilesUnmodified.Load(),
			s.BytesRead.Load() + s.BytesSkipped.Load() + s.BytesHoles.Load(), s.BytesTotal.Load()
	}
}

func restoreProgress(s *restorer.Stats, total int64) counters {
	return func() (int64, int64, int64) {
		return s.Files.Load() + s.Dirs.Load() + s.Others.Load(), s.Bytes.Load(), total
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// drawErr writes s on stderr, between whole lines of --verbose.
func (e *env) drawErr(s string) {
	e.errMu.Lock()
	defer e.errMu.Unlock()
	fmt.Fprint(e.stderr, s)
}

// verbose prints, with --verbose, a line naming what was done with an
// item, on stderr (stdout keeps the result alone), erasing a progress line
// first; the next tick draws it again. It may be called concurrently.
func (e *env) verbose(what, name string) {
	if !e.o.verbose {
		return
	}
	erase := ""
	if e.interactive() {
		erase = "\r\x1b[K"
	}
	e.drawErr(fmt.Sprintf("%s%-9s %s\n", erase, what, termsafe.Name(name)))
}

// backupVerbose is the archiver's Verbose with --verbose, else nil.
func (e *env) backupVerbose() func(string, archiver.FileEvent) {
	if !e.o.verbose {
		return nil
	}
	return func(p string, what archiver.FileEvent) { e.verbose(string(what), p) }
}

// restoreVerbose is the restorer's Verbose with --verbose, else nil.
func (e *env) restoreVerbose() func(string, restorer.Event) {
	if !e.o.verbose {
		return nil
	}
	return func(rel string, what restorer.Event) { e.verbose(string(what), rel) }
}

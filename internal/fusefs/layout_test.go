//go:build linux

package fusefs

import (
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/snapshot"
)

func stored(id string, host string, tm time.Time, appendOnly bool, tags ...string) snapshot.Stored {
	var bid blob.ID
	for i := 0; i < len(id)/2; i++ {
		var b byte
		for _, c := range id[2*i : 2*i+2] {
			b = b<<4 | byte(strings.IndexRune("0123456789abcdef", c))
		}
		bid[i] = b
	}
	return snapshot.Stored{ID: bid, Snapshot: &snapshot.Snapshot{Time: tm, Hostname: host, Tags: tags},
		Author: snapshot.Author{AppendOnly: appendOnly}}
}

func TestLayout(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	snaps := []snapshot.Stored{
		stored("1234567890", "h", t0, false, "t"),
		stored("1234567891", "h", t0, false),                // same time and 9-digit prefix as the first
		stored("abcdef0000", "h", t0.Add(time.Hour), true),  // newest, but append-only
		stored("ffff000000", "", t0.Add(-time.Hour), false), // no valid host name
		stored("eeee000000", "..", t0.Add(-time.Hour), false, "a/b", "ok"),
	}
	top, errs := layout(snaps)
	if len(errs) != 3 {
		t.Errorf("errors %v, want 3 (host \"\", host \"..\", tag \"a/b\")", errs)
	}
	ids := top.dirs["snapshots"]
	for _, name := range []string{"1234567890", "1234567891", "abcdef0000", "ffff000000", "eeee000000"} {
		if ids.snaps[name] == nil {
			t.Errorf("no snapshots/%s: %v", name, sortedNames(ids.snaps))
		}
	}
	if got := ids.links["latest"]; got != "1234567891" {
		t.Errorf("snapshots/latest -> %q: an append-only device's snapshot is never latest", got)
	}
	h := top.dirs["hosts"].dirs["h"]
	tn := timeName(t0)
	want := map[string]string{
		tn + "-1234567890":          "../../snapshots/1234567890",
		tn + "-1234567891":          "../../snapshots/1234567891",
		timeName(t0.Add(time.Hour)): "../../snapshots/abcdef0000",
		"latest":                    tn + "-1234567891",
	}
	if len(h.links) != len(want) {
		t.Errorf("hosts/h holds %q, want %q", h.links, want)
	}
	for k, v := range want {
		if h.links[k] != v {
			t.Errorf("hosts/h/%s -> %q, want %q", k, h.links[k], v)
		}
	}
	if hosts := sortedNames(top.dirs["hosts"].dirs); len(hosts) != 1 {
		t.Errorf("hosts/ holds %q, want only h", hosts)
	}
	if tags := sortedNames(top.dirs["tags"].dirs); strings.Join(tags, ",") != "ok,t" {
		t.Errorf("tags/ holds %q, want ok and t", tags)
	}
}

package restorer

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/fsmeta"
	"github.com/coffer-backup/coffer/internal/index"
)

// TestPlanReads checks how a plan groups blobs: one need per blob however
// many targets, one read per pack unless a gap of maxGap or a read of
// more than maxRead cuts it, reads in the order their first blob was
// needed, and unlocated blobs left to the fallback in the order needed.
func TestPlanReads(t *testing.T) {
	p1, p2 := blob.ID{1}, blob.ID{2}
	locs := map[blob.ID]index.Location{
		{10}: {Pack: p1, Offset: 0, Length: 100},
		{11}: {Pack: p1, Offset: 100, Length: 100},
		{12}: {Pack: p1, Offset: 200 + maxGap - 1, Length: 100}, // a gap just under maxGap: joined
		{13}: {Pack: p1, Offset: 400 + 2*maxGap, Length: 100},   // a gap of maxGap or more: cut
		{14}: {Pack: p2, Offset: 0, Length: maxRead - 50},
		{15}: {Pack: p2, Offset: maxRead - 50, Length: 100}, // would make the read too long: cut
	}
	locate := func(id blob.ID) (index.Location, bool) { l, ok := locs[id]; return l, ok }
	p := newPlan()
	for _, id := range []blob.ID{{13}, {12}, {11}, {10}, {15}, {14}, {99}, {98}, {10}, {10}} {
		p.add(id, target{}, locate)
	}
	if p.targets != 10 || len(p.blobs) != 8 || len(p.blobs[blob.ID{10}].targets) != 3 {
		t.Fatalf("%d targets, %d blobs", p.targets, len(p.blobs))
	}
	reads, rest := p.reads()
	var got []string
	for _, r := range reads {
		s := fmt.Sprintf("%d:%d-%d", r.pack[0], r.start, r.end)
		for _, n := range r.needs {
			s += fmt.Sprintf(",%d", n.id[0])
		}
		got = append(got, s)
	}
	want := []string{ // 13 was needed first, then 12, ..., 15 before 14
		fmt.Sprintf("1:%d-%d,13", 400+2*maxGap, 500+2*maxGap), fmt.Sprintf("1:0-%d,10,11,12", 300+maxGap-1),
		fmt.Sprintf("2:%d-%d,15", maxRead-50, maxRead+50), fmt.Sprintf("2:0-%d,14", maxRead-50),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("reads\n%v\nwant\n%v", got, want)
	}
	if len(rest) != 2 || rest[0].id != (blob.ID{99}) || rest[1].id != (blob.ID{98}) {
		t.Errorf("fallback %v", rest)
	}
}

// TestOpenFilesBounded writes to more files than maxOpen, in turns, so
// that files are created, closed and reopened: no more than maxOpen stay
// open, and every write lands.
func TestOpenFilesBounded(t *testing.T) {
	dir := t.TempDir()
	root, err := fsmeta.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	o := newOpenFiles(root, false)
	files := make([]*pending, 3*maxOpen)
	for i := range files {
		files[i] = &pending{rel: fmt.Sprintf("f%d", i)}
	}
	for round := range 3 {
		for _, p := range files {
			f, err := o.acquire(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte{'a' + byte(round)}, int64(round)); err != nil {
				t.Fatal(err)
			}
			o.release(p)
			if o.open > maxOpen {
				t.Fatalf("%d files open", o.open)
			}
		}
	}
	for _, p := range files {
		f, err := o.take(p)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if b, err := os.ReadFile(filepath.Join(dir, p.rel)); err != nil || string(b) != "abc" {
			t.Errorf("%s holds %q, %v", p.rel, b, err)
		}
	}
	if o.open != 0 {
		t.Errorf("%d files left open", o.open)
	}
	if _, err := newOpenFiles(root, false).acquire(&pending{rel: "f0"}); err == nil {
		t.Error("a second restore created f0 again without overwrite")
	}
}

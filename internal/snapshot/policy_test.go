package snapshot

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
)

// rows returns the lines of a testdata file, comments and blanks left out.
func rows(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func split(s string) []string {
	if s == "-" {
		return nil
	}
	return strings.Split(s, ",")
}

// retentionSnapshots reads testdata/retention/snapshots.txt.
func retentionSnapshots(t *testing.T) []Stored {
	var snaps []Stored
	for _, l := range rows(t, "testdata/retention/snapshots.txt") {
		f := strings.Fields(l)
		tm, err := time.Parse(time.RFC3339, f[0])
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, Stored{ID: sha256.Sum256([]byte(l)), Snapshot: &Snapshot{
			Time: tm, Hostname: f[1], Paths: split(f[2]), Tags: split(f[3]), Tree: blob.ID{1},
		}})
	}
	return snaps
}

func parsePolicy(t *testing.T, fields []string) Policy {
	var n [6]int
	for i := range n {
		v, err := strconv.Atoi(fields[i])
		if err != nil {
			t.Fatal(err)
		}
		n[i] = v
	}
	p := Policy{Last: n[0], Hourly: n[1], Daily: n[2], Weekly: n[3], Monthly: n[4], Yearly: n[5], Tags: split(fields[6])}
	if len(fields) > 7 && fields[7] != "-" {
		w, err := ParseWithin(fields[7])
		if err != nil {
			t.Fatal(err)
		}
		p.Within = w
	}
	if len(fields) > 8 {
		g, err := ParseGroupBy(strings.Join(split(fields[8]), ","))
		if err != nil {
			t.Fatal(err)
		}
		p.GroupBy = &g
	}
	return p
}

func line(verb string, s Stored) string {
	return fmt.Sprintf("%s %s %s %s %s", verb, s.ID.Short(), s.Time.Format(time.RFC3339), s.Hostname, strings.Join(s.Paths, ","))
}

// TestApplyGolden applies each policy of testdata/retention/policies.txt to
// the snapshots of snapshots.txt and compares with the golden results,
// which reference.py computed independently.
func TestApplyGolden(t *testing.T) {
	snaps := retentionSnapshots(t)
	if len(snaps) < 50 {
		t.Fatalf("only %d snapshots", len(snaps))
	}
	listed := slices.Clone(snaps)
	for _, l := range rows(t, "testdata/retention/policies.txt") {
		f := strings.Fields(l)
		t.Run(f[0], func(t *testing.T) {
			keep, remove := Apply(snaps, parsePolicy(t, f[1:]))
			if len(keep)+len(remove) != len(snaps) {
				t.Fatalf("%d kept and %d removed of %d", len(keep), len(remove), len(snaps))
			}
			out := make(map[blob.ID]string)
			for _, k := range keep {
				out[k.ID] = line("keep  ", k.Stored) + " " + strings.Join(k.Reasons, ",")
			}
			for _, r := range remove {
				out[r.ID] = line("remove", r)
			}
			sorted := slices.Clone(snaps)
			Sort(sorted)
			var got []string
			for _, s := range sorted {
				got = append(got, out[s.ID])
			}
			want := rows(t, "testdata/retention/"+f[0]+".golden")
			for i := range max(len(got), len(want)) {
				g, w := at(got, i), at(want, i)
				if g != w {
					t.Errorf("line %d:\n got %s\nwant %s", i+1, g, w)
				}
			}
			if !slices.Equal(snaps, listed) {
				t.Fatal("Apply reordered its argument")
			}
		})
	}
}

func at(l []string, i int) string {
	if i < len(l) {
		return l[i]
	}
	return "(nothing)"
}

// TestApplyOrder checks that both lists come back oldest first.
func TestApplyOrder(t *testing.T) {
	keep, remove := Apply(retentionSnapshots(t), Policy{Daily: 3})
	kept := make([]Stored, len(keep))
	for i, k := range keep {
		kept[i] = k.Stored
	}
	for _, l := range [][]Stored{kept, remove} {
		if !slices.IsSortedFunc(l, compare) || len(l) == 0 {
			t.Errorf("list of %d not oldest first", len(l))
		}
	}
}

// TestApplyEmpty checks that an empty policy keeps everything.
func TestApplyEmpty(t *testing.T) {
	snaps := retentionSnapshots(t)
	p := Policy{}
	if !p.Empty() || (Policy{Tags: []string{"x"}}).Empty() || (Policy{Yearly: -1}).Empty() || (Policy{Within: Within{Hours: 1}}).Empty() {
		t.Fatal("Empty is wrong")
	}
	keep, remove := Apply(snaps, p)
	if len(keep) != len(snaps) || len(remove) != 0 {
		t.Fatalf("empty policy kept %d and removed %d", len(keep), len(remove))
	}
}

// TestApplyZones checks that periods are read in each snapshot's own zone:
// 23:30 and 00:30 at UTC+1 fall on different days and years there, though
// on the same day in UTC.
func TestApplyZones(t *testing.T) {
	zone := time.FixedZone("UTC+1", 3600)
	snaps := []Stored{
		{ID: blob.ID{1}, Snapshot: &Snapshot{Time: time.Date(2024, 12, 31, 23, 30, 0, 0, zone), Hostname: "h", Paths: []string{"/"}}},
		{ID: blob.ID{2}, Snapshot: &Snapshot{Time: time.Date(2025, 1, 1, 0, 30, 0, 0, zone), Hostname: "h", Paths: []string{"/"}}},
	}
	for _, p := range []Policy{{Daily: 2}, {Yearly: 2}, {Hourly: 2}, {Monthly: 2}} {
		if keep, _ := Apply(snaps, p); len(keep) != 2 {
			t.Errorf("%+v kept %d, want 2", p, len(keep))
		}
	}
	if keep, _ := Apply(snaps, Policy{Weekly: 2}); len(keep) != 1 {
		t.Errorf("both in ISO week 2025-W01, yet %d kept", len(keep))
	}
}

package snapshot

import (
	"errors"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
)

func TestParseWithin(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Within
		ok   bool
	}{
		{"1y2m3d4h", Within{1, 2, 3, 4}, true},
		{"4h3d", Within{Days: 3, Hours: 4}, true},
		{"7d", Within{Days: 7}, true},
		{"0d", Within{}, true},
		{"1000000y", Within{Years: 1000000}, true},
		{"", Within{}, false},
		{"d", Within{}, false},
		{"1", Within{}, false},
		{"1w", Within{}, false},
		{"1d2d", Within{}, false},
		{"-1d", Within{}, false},
		{"+1d", Within{}, false},
		{"1000001y", Within{}, false},
		{"1d ", Within{}, false},
		{"1.5d", Within{}, false},
		{"99999999999999999999d", Within{}, false},
	} {
		got, err := ParseWithin(c.in)
		if c.ok != (err == nil) || got != c.want {
			t.Errorf("ParseWithin(%q) = %+v, %v; want %+v, ok %v", c.in, got, err, c.want, c.ok)
		}
		if err != nil && !errors.Is(err, ErrWithin) {
			t.Errorf("ParseWithin(%q): %v does not wrap ErrWithin", c.in, err)
		}
		if err == nil && got != (Within{}) {
			again, err := ParseWithin(got.String())
			if err != nil || again != got {
				t.Errorf("%q formats as %q, which parses as %+v, %v", c.in, got.String(), again, err)
			}
		}
	}
}

func TestWithinBefore(t *testing.T) {
	t0 := time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		w    Within
		want time.Time
	}{
		{Within{Months: 1}, time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)}, // 31 February is 3 March
		{Within{Years: 1, Days: 1, Hours: 13}, time.Date(2024, 3, 29, 23, 0, 0, 0, time.UTC)},
		{Within{Hours: 36}, time.Date(2025, 3, 30, 0, 0, 0, 0, time.UTC)},
	} {
		if got := c.w.Before(t0); !got.Equal(c.want) {
			t.Errorf("%s before %s = %s, want %s", c.w, t0, got, c.want)
		}
	}
}

func TestParseGroupBy(t *testing.T) {
	for _, c := range []struct {
		in   string
		want GroupBy
		ok   bool
	}{
		{"host,paths,device", DefaultGroupBy, true},
		{"", GroupBy{}, true},
		{"tags", GroupBy{Tags: true}, true},
		{"host,tags,paths,device", GroupBy{true, true, true, true}, true},
		{"hosts", GroupBy{}, false},
		{"host,", GroupBy{}, false},
		{"Host", GroupBy{}, false},
	} {
		got, err := ParseGroupBy(c.in)
		if c.ok != (err == nil) || got != c.want {
			t.Errorf("ParseGroupBy(%q) = %+v, %v; want %+v, ok %v", c.in, got, err, c.want, c.ok)
		}
		if err == nil {
			if again, _ := ParseGroupBy(got.String()); again != got {
				t.Errorf("%q formats as %q", c.in, got.String())
			}
		}
	}
}

// authored is a snapshot of host at hour hr of 1 March 2025, written by dev.
func authored(id byte, hr int, host, dev string, appendOnly bool, tags ...string) Stored {
	return Stored{ID: blob.ID{id}, Author: Author{Device: dev, AppendOnly: appendOnly}, Snapshot: &Snapshot{
		Time: time.Date(2025, 3, 1, hr, 0, 0, 0, time.UTC), Hostname: host, Paths: []string{"/home"}, Tags: tags, Tree: blob.ID{1},
	}}
}

// TestApplyGrouping checks the grouping choices, and that an append-only
// device's snapshots stay a group of their own under every one of them:
// however many it writes, however dated and named, a full device's
// snapshot is kept as if they did not exist.
func TestApplyGrouping(t *testing.T) {
	full1 := authored(1, 1, "laptop", "full-a", false, "x")
	full2 := authored(2, 2, "laptop", "full-b", false)
	full3 := authored(3, 3, "desk", "full-a", false, "x")
	ao1 := authored(4, 4, "laptop", "ao", true, "x")
	ao2 := authored(5, 23, "laptop", "ao", true)
	ao3 := authored(6, 22, "desk", "ao2", true)
	all := []Stored{full1, full2, full3, ao1, ao2, ao3}
	for _, c := range []struct {
		name  string
		by    *GroupBy
		p     Policy
		kept  []byte
		under []Stored
	}{
		{"default", nil, Policy{Last: 1}, []byte{1, 2, 3, 6, 5}, all},
		{"host", &GroupBy{Host: true}, Policy{Last: 1}, []byte{2, 3, 6, 5}, all},
		{"nothing", &GroupBy{}, Policy{Last: 1}, []byte{3, 6, 5}, all},
		{"tags", &GroupBy{Tags: true}, Policy{Last: 1}, []byte{2, 3, 4, 6, 5}, all},
		{"device", &GroupBy{Device: true}, Policy{Last: 1}, []byte{2, 3, 6, 5}, all},
		{"within 1h: not the snapshot 1h older", &GroupBy{}, Policy{Within: Within{Hours: 1}}, []byte{3, 6, 5}, all},
		{"within 2h", &GroupBy{}, Policy{Within: Within{Hours: 2}}, []byte{2, 3, 6, 5}, all},
		{"append-only alone", &GroupBy{}, Policy{Last: 1}, []byte{3}, []Stored{full1, full2, full3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.p.GroupBy = c.by
			keep, remove := Apply(c.under, c.p)
			var got []byte
			for _, k := range keep {
				got = append(got, k.ID[0])
			}
			if string(got) != string(c.kept) || len(keep)+len(remove) != len(c.under) {
				t.Errorf("kept %v, want %v", got, c.kept)
			}
		})
	}
}

// TestApplyAppendOnlyCannotPushOut checks, for every grouping and rule,
// that adding an append-only device's snapshots (future-dated, claiming
// the full device's host, paths and tags) changes nothing the policy
// decides about a full device's snapshots.
func TestApplyAppendOnlyCannotPushOut(t *testing.T) {
	var full []Stored
	for i := range 10 {
		full = append(full, authored(byte(10+i), i, "laptop", "full", false, "x"))
	}
	var hostile []Stored
	for i := range 10 {
		s := authored(byte(40+i), i, "laptop", "ao", true, "x")
		s.Time = s.Time.AddDate(100, 0, i)
		hostile = append(hostile, s)
	}
	policies := []Policy{{Last: 3}, {Hourly: 2}, {Daily: 1}, {Within: Within{Hours: 2}}, {Yearly: 1, Tags: []string{"y"}}}
	for _, by := range []GroupBy{{}, {Host: true}, {Paths: true}, {Tags: true}, DefaultGroupBy, {true, true, true, false}} {
		for _, p := range policies {
			p.GroupBy = &by
			alone, _ := Apply(full, p)
			mixed, _ := Apply(append(full[:len(full):len(full)], hostile...), p)
			var fromFull []Kept
			for _, k := range mixed {
				if !k.Author.AppendOnly {
					fromFull = append(fromFull, k)
				}
			}
			if len(fromFull) != len(alone) {
				t.Errorf("group by %q, %+v: %d full snapshots kept alone, %d with the append-only ones", by, p, len(alone), len(fromFull))
			}
		}
	}
}

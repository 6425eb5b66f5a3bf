package snapshot

import (
	"slices"
	"time"
)

// Policy says which snapshots to keep. A count of N keeps the newest
// snapshot of each of the N most recent periods (hours, days, ISO weeks,
// months, years) that have snapshots; Last keeps the N newest snapshots. A
// negative count keeps every period. Within keeps every snapshot taken
// within that span of the newest of its group. Snapshots carrying any of
// Tags are always kept. GroupBy chooses the groups; nil is DefaultGroupBy.
type Policy struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly int
	Within                                       Within
	Tags                                         []string
	GroupBy                                      *GroupBy
}

// Empty reports whether the policy keeps nothing by itself. Apply keeps
// every snapshot under an empty policy; a caller should refuse one rather
// than apply it.
func (p Policy) Empty() bool {
	return p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 &&
		p.Monthly == 0 && p.Yearly == 0 && p.Within.Zero() && len(p.Tags) == 0
}

// Kept is a snapshot Apply keeps, with the reasons: "last", "hourly",
// "daily", "weekly", "monthly", "yearly" for each rule that selected it, in
// that order, then "within" if Within kept it, then "tag:" and the tag for
// each of the policy's tags it carries.
type Kept struct {
	Stored
	Reasons []string
}

// rule is one counted rule of a policy: its name, its count, and the
// period a snapshot falls in (i is the snapshot's rank, newest first, in
// its group).
type rule struct {
	name   string
	count  int
	period func(t time.Time, i int) int
}

func (p Policy) rules() []rule {
	return []rule{
		{"last", p.Last, func(_ time.Time, i int) int { return i }},
		{"hourly", p.Hourly, func(t time.Time, _ int) int { return dayOf(t)*100 + t.Hour() }},
		{"daily", p.Daily, func(t time.Time, _ int) int { return dayOf(t) }},
		{"weekly", p.Weekly, func(t time.Time, _ int) int { y, w := t.ISOWeek(); return y*100 + w }},
		{"monthly", p.Monthly, func(t time.Time, _ int) int { return t.Year()*100 + int(t.Month()) }},
		{"yearly", p.Yearly, func(t time.Time, _ int) int { return t.Year() }},
	}
}

// dayOf numbers t's calendar day in t's own location.
func dayOf(t time.Time) int { return (t.Year()*100+int(t.Month()))*100 + t.Day() }

// groupState tracks, for one group, each rule's remaining count and the
// period of the last snapshot it kept.
type groupState struct {
	rank      int
	newest    *Snapshot // the group's newest snapshot, which Within counts back from
	remaining []int
	last      []int
	seen      []bool
}

// Apply decides which snapshots to keep under p (docs/format.md §8.1).
// Snapshots are grouped as p.GroupBy says (by default by author device,
// hostname and set of paths; an append-only author's snapshots always
// apart), and each group is considered on its own, newest first: a rule with count N keeps a
// snapshot if it is the newest of a period no snapshot newer in the group
// has fallen in, until N have been kept. Periods are read in each
// snapshot's own time zone. Both lists come back oldest first, as Sort
// orders them. An empty policy keeps everything.
func Apply(snaps []Stored, p Policy) (keep []Kept, remove []Stored) {
	sorted := slices.Clone(snaps)
	Sort(sorted)
	if p.Empty() {
		for _, s := range sorted {
			keep = append(keep, Kept{Stored: s})
		}
		return keep, nil
	}
	rules := p.rules()
	by := DefaultGroupBy
	if p.GroupBy != nil {
		by = *p.GroupBy
	}
	groups := make(map[string]*groupState)
	for i := len(sorted) - 1; i >= 0; i-- {
		s := sorted[i]
		key := by.key(s)
		g := groups[key]
		if g == nil {
			g = newGroupState(rules, s.Snapshot)
			groups[key] = g
		}
		if reasons := g.reasons(s.Snapshot, rules, p); len(reasons) > 0 {
			keep = append(keep, Kept{Stored: s, Reasons: reasons})
		} else {
			remove = append(remove, s)
		}
	}
	slices.Reverse(keep)
	slices.Reverse(remove)
	return keep, remove
}

func newGroupState(rules []rule, newest *Snapshot) *groupState {
	g := &groupState{newest: newest, remaining: make([]int, len(rules)), last: make([]int, len(rules)), seen: make([]bool, len(rules))}
	for i, r := range rules {
		g.remaining[i] = r.count
	}
	return g
}

// reasons applies the rules to the group's next snapshot, newest first.
func (g *groupState) reasons(s *Snapshot, rules []rule, p Policy) []string {
	var reasons []string
	for i, r := range rules {
		if g.remaining[i] == 0 {
			continue
		}
		period := r.period(s.Time, g.rank)
		if g.seen[i] && period == g.last[i] {
			continue
		}
		g.seen[i], g.last[i] = true, period
		g.remaining[i]-- // a negative count never reaches zero
		reasons = append(reasons, r.name)
	}
	g.rank++
	if !p.Within.Zero() && s.Time.After(p.Within.Before(g.newest.Time)) {
		reasons = append(reasons, "within")
	}
	for _, t := range p.Tags {
		if slices.Contains(s.Tags, t) {
			reasons = append(reasons, "tag:"+t)
		}
	}
	return reasons
}

package snapshot

import "testing"

func TestFilter(t *testing.T) {
	s := &Snapshot{Hostname: "laptop", Tags: []string{"daily", "work"}, Paths: []string{"/home", "/etc"}}
	for _, tc := range []struct {
		name string
		f    Filter
		want bool
	}{
		{"empty", Filter{}, true},
		{"host", Filter{Hosts: []string{"nas", "laptop"}}, true},
		{"other host", Filter{Hosts: []string{"nas"}}, false},
		{"one tag", Filter{TagSets: []string{"work"}}, true},
		{"all tags of a set", Filter{TagSets: []string{"daily,work"}}, true},
		{"a set it lacks a tag of", Filter{TagSets: []string{"daily,home"}}, false},
		{"any of the sets", Filter{TagSets: []string{"daily,home", "work"}}, true},
		{"path", Filter{Paths: []string{"/etc"}}, true},
		{"every path", Filter{Paths: []string{"/etc", "/home"}}, true},
		{"a path it lacks", Filter{Paths: []string{"/etc", "/srv"}}, false},
		{"all three", Filter{Hosts: []string{"laptop"}, TagSets: []string{"daily"}, Paths: []string{"/home"}}, true},
	} {
		if got := tc.f.Match(s); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	snaps := []Stored{{Snapshot: s}, {Snapshot: &Snapshot{Hostname: "nas"}}}
	if got := (Filter{Hosts: []string{"nas"}}).Select(snaps); len(got) != 1 || got[0].Hostname != "nas" {
		t.Errorf("Select: %v", got)
	}
}

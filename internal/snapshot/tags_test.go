package snapshot

import (
	"errors"
	"slices"
	"testing"
)

func TestTagChange(t *testing.T) {
	for _, c := range []struct {
		name   string
		change TagChange
		tags   []string
		want   []string
		same   bool
	}{
		{"add", TagChange{Add: []string{"b"}}, []string{"a"}, []string{"a", "b"}, false},
		{"add present", TagChange{Add: []string{"a"}}, []string{"a"}, []string{"a"}, true},
		{"add twice", TagChange{Add: []string{"b", "b"}}, nil, []string{"b"}, false},
		{"remove", TagChange{Remove: []string{"a"}}, []string{"a", "b"}, []string{"b"}, false},
		{"remove absent", TagChange{Remove: []string{"z"}}, []string{"a"}, []string{"a"}, true},
		{"remove last", TagChange{Remove: []string{"a"}}, []string{"a"}, nil, false},
		{"add and remove the same", TagChange{Add: []string{"a"}, Remove: []string{"a"}}, []string{"a", "b"}, []string{"b"}, false},
		{"set", TagChange{Replace: true, Set: []string{"x", "y"}}, []string{"a"}, []string{"x", "y"}, false},
		{"set none", TagChange{Replace: true}, []string{"a"}, nil, false},
		{"set none on none", TagChange{Replace: true}, nil, nil, true},
		{"set same", TagChange{Replace: true, Set: []string{"a", "b"}}, []string{"a", "b"}, []string{"a", "b"}, true},
		{"set other order", TagChange{Replace: true, Set: []string{"b", "a"}}, []string{"a", "b"}, []string{"b", "a"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.change.Check(); err != nil {
				t.Fatal(err)
			}
			orig := slices.Clone(c.tags)
			s := &Snapshot{Tags: c.tags}
			got, changed := c.change.Retagged(s)
			if !slices.Equal(got.Tags, c.want) || changed == c.same || (c.want == nil && got.Tags != nil) {
				t.Errorf("tags %q, changed %v; want %q, changed %v", got.Tags, changed, c.want, !c.same)
			}
			if !slices.Equal(s.Tags, orig) {
				t.Errorf("the original's tags became %q", s.Tags)
			}
		})
	}
}

func TestTagChangeCheck(t *testing.T) {
	for _, c := range []TagChange{
		{},
		{Replace: true, Add: []string{"a"}},
		{Replace: true, Set: []string{"a"}, Remove: []string{"b"}},
		{Add: []string{""}},
		{Remove: []string{"a,b"}},
		{Replace: true, Set: []string{"x,"}},
	} {
		err := c.Check()
		if err == nil || !errors.Is(err, ErrTagChange) && !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

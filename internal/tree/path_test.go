package tree

import "testing"

func TestPath(t *testing.T) {
	for _, c := range []struct {
		base  string
		names []string
		pops  int
		want  string
	}{
		{"/", nil, 0, "/"},
		{"/", []string{"a"}, 0, "/a"},
		{"/", []string{"a", "b", "c"}, 0, "/a/b/c"},
		{"/", []string{"a", "b", "c"}, 1, "/a/b"},
		{"/", []string{"a", "b"}, 2, "/"},
		{"/", []string{"a"}, 3, "/"}, // popping past the base does nothing
		{"", []string{"a", "b"}, 0, "a/b"},
		{"", []string{"a", "b"}, 1, "a"},
		{"/home/me", []string{"x"}, 0, "/home/me/x"},
		{"/home/me", []string{"x", "y"}, 2, "/home/me"},
		{"", []string{"\xff\xfe", "name with spaces"}, 0, "\xff\xfe/name with spaces"},
	} {
		p := NewPath(c.base)
		for _, n := range c.names {
			p.Push([]byte(n))
		}
		for range c.pops {
			p.Pop()
		}
		if got := p.String(); got != c.want {
			t.Errorf("%q + %q - %d: %q, want %q", c.base, c.names, c.pops, got, c.want)
		}
		if want := max(0, len(c.names)-c.pops); p.Depth() != want || p.Len() != len(c.want) {
			t.Errorf("%q + %q - %d: depth %d, len %d", c.base, c.names, c.pops, p.Depth(), p.Len())
		}
	}
}

// TestPathReusesBuffer checks that a deep walk's path costs the bytes of
// the deepest path, not a copy per level.
func TestPathReusesBuffer(t *testing.T) {
	p := NewPath("/")
	name := make([]byte, MaxNameLen)
	for i := range name {
		name[i] = 'n'
	}
	allocs := testing.AllocsPerRun(10, func() {
		for range 100 {
			p.Push(name)
		}
		for range 100 {
			p.Pop()
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per descent once the buffer has grown", allocs)
	}
}

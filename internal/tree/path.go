package tree

// Path is a '/'-separated path built one name at a time in a single buffer,
// for walks: descending appends a name, returning cuts it off again, so a
// walk holds one path however deep it goes rather than a copy per level.
// The zero Path is empty; names are appended without checks.
type Path struct {
	buf  []byte
	ends []int // len(buf) before each Push, to undo it
}

// NewPath returns a path starting at base: "/" for absolute paths, "" for
// relative ones, or any path to extend.
func NewPath(base string) *Path { return &Path{buf: []byte(base)} }

// Push appends name, after a '/' unless the path is empty or ends in one.
func (p *Path) Push(name []byte) {
	p.ends = append(p.ends, len(p.buf))
	if len(p.buf) > 0 && p.buf[len(p.buf)-1] != '/' {
		p.buf = append(p.buf, '/')
	}
	p.buf = append(p.buf, name...)
}

// Pop removes the name the last Push appended; it does nothing at the base.
func (p *Path) Pop() {
	if len(p.ends) == 0 {
		return
	}
	p.buf = p.buf[:p.ends[len(p.ends)-1]]
	p.ends = p.ends[:len(p.ends)-1]
}

// Depth returns the number of names pushed and not popped.
func (p *Path) Depth() int { return len(p.ends) }

// Len returns the path's length in bytes.
func (p *Path) Len() int { return len(p.buf) }

// String returns a copy of the path.
func (p *Path) String() string { return string(p.buf) }

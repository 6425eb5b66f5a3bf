package fsmeta

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"

	"github.com/coffer-backup/coffer/internal/tree"
)

// Platform metadata (docs/format.md §5.0, "Platform metadata") is what macOS,
// FreeBSD and Windows record beyond the fields of a Node. It is stored in the
// node's Xattrs under names that begin with a NUL byte, which no file
// system's attribute name can hold, so they never collide with a real
// attribute, sort before every real one, and leave the tree encoding (§5.1)
// and every Linux backup unchanged.
const (
	metaPrefix    = "\x00coffer."
	metaBirthTime = metaPrefix + "btime"   // svarint: birth time, nanoseconds since the epoch
	metaFlags     = metaPrefix + "flags"   // uvarint: BSD st_flags, as chflags(2) takes them
	metaWinAttrs  = metaPrefix + "winattr" // uvarint: Windows FILE_ATTRIBUTE_* bits
	metaWinSD     = metaPrefix + "winsd"   // bytes: self-relative Windows security descriptor
)

// metaNames describes each name, for warnings.
var metaNames = map[string]string{
	metaBirthTime: "birth time",
	metaFlags:     "file flags",
	metaWinAttrs:  "Windows file attributes",
	metaWinSD:     "Windows security descriptor",
}

// platformMeta is the platform metadata of one node; a nil field is absent.
type platformMeta struct {
	birthTime *int64
	flags     *uint32
	winAttrs  *uint32
	winSD     []byte
}

// isMeta reports whether an attribute name is reserved for platform metadata.
func isMeta(name string) bool { return strings.HasPrefix(name, "\x00") }

// withMeta returns attrs, sorted by name and free of reserved names, with
// m's fields added in front in the order of their names.
func withMeta(attrs []tree.Xattr, m platformMeta) []tree.Xattr {
	var out []tree.Xattr
	if m.birthTime != nil {
		out = append(out, tree.Xattr{Name: metaBirthTime, Value: binary.AppendVarint(nil, *m.birthTime)})
	}
	if m.flags != nil {
		out = append(out, tree.Xattr{Name: metaFlags, Value: binary.AppendUvarint(nil, uint64(*m.flags))})
	}
	if m.winAttrs != nil {
		out = append(out, tree.Xattr{Name: metaWinAttrs, Value: binary.AppendUvarint(nil, uint64(*m.winAttrs))})
	}
	if m.winSD != nil {
		out = append(out, tree.Xattr{Name: metaWinSD, Value: m.winSD})
	}
	if len(out) == 0 {
		return attrs
	}
	return append(out, attrs...)
}

// splitMeta separates a node's attributes into the real ones and its
// platform metadata. A reserved name this version does not know, or a value
// that is not the canonical encoding its name requires, is a warning
// wrapping ErrNotRestored, and is left out of both.
func splitMeta(attrs []tree.Xattr) (real []tree.Xattr, m platformMeta, warnings []error) {
	i := 0
	for i < len(attrs) && isMeta(attrs[i].Name) {
		i++
	}
	real = attrs[i:]
	for _, x := range attrs[:i] {
		if err := m.set(x); err != nil {
			warnings = append(warnings, fmt.Errorf("%w: %w", ErrNotRestored, err))
		}
	}
	return real, m, warnings
}

// set decodes one reserved attribute into m.
func (m *platformMeta) set(x tree.Xattr) error {
	bad := fmt.Errorf("platform metadata %q: malformed value %x", x.Name[1:], x.Value)
	switch x.Name {
	case metaBirthTime:
		v, n := binary.Varint(x.Value)
		if n <= 0 || n != len(x.Value) || n != len(binary.AppendVarint(nil, v)) {
			return bad
		}
		m.birthTime = &v
	case metaFlags, metaWinAttrs:
		v, n := binary.Uvarint(x.Value)
		if n <= 0 || n != len(x.Value) || n != len(binary.AppendUvarint(nil, v)) || v > math.MaxUint32 {
			return bad
		}
		v32 := uint32(v)
		if x.Name == metaFlags {
			m.flags = &v32
		} else {
			m.winAttrs = &v32
		}
	case metaWinSD:
		if len(x.Value) == 0 {
			return bad
		}
		m.winSD = x.Value
	default:
		return fmt.Errorf("unknown platform metadata %q", x.Name[1:])
	}
	return nil
}

// unsupported returns a warning wrapping ErrNotRestored for each field of
// m but those named in handled, which this platform applies.
func (m platformMeta) unsupported(handled ...string) []error {
	var warnings []error
	for _, name := range m.present() {
		if !slices.Contains(handled, name) {
			warnings = append(warnings, fmt.Errorf("%w: %s: not supported on %s", ErrNotRestored, metaNames[name], runtime.GOOS))
		}
	}
	return warnings
}

// present lists the names of m's fields that are set, in name order.
func (m platformMeta) present() []string {
	var names []string
	if m.birthTime != nil {
		names = append(names, metaBirthTime)
	}
	if m.flags != nil {
		names = append(names, metaFlags)
	}
	if m.winAttrs != nil {
		names = append(names, metaWinAttrs)
	}
	if m.winSD != nil {
		names = append(names, metaWinSD)
	}
	return names
}

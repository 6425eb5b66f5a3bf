package fsmeta

import (
	"errors"
	"reflect"
	"testing"

	"github.com/coffer-backup/coffer/internal/tree"
)

// TestPlatformMetaRoundTrip checks that platform metadata survives being
// stored as reserved attributes: withMeta puts it in front of the real
// attributes in name order, so the list stays sorted (tree.Validate), and
// splitMeta gives back both parts.
func TestPlatformMetaRoundTrip(t *testing.T) {
	btime, flags, attrs := int64(-1_500_000_000_123), uint32(0x8002), uint32(0x21)
	m := platformMeta{birthTime: &btime, flags: &flags, winAttrs: &attrs, winSD: []byte{1, 0, 4, 0x80}}
	real := []tree.Xattr{{Name: "com.apple.quarantine", Value: []byte("q")}, {Name: "user.a", Value: []byte("v")}}
	all := withMeta(real, m)
	n := &tree.Node{Name: []byte("f"), Type: tree.File, Xattrs: all}
	if err := n.Validate(); err != nil {
		t.Fatalf("node with platform metadata: %v", err)
	}
	gotReal, got, warnings := splitMeta(all)
	if len(warnings) != 0 || !reflect.DeepEqual(gotReal, real) || !reflect.DeepEqual(got, m) {
		t.Errorf("splitMeta = %v, %+v, %v; want %v, %+v", gotReal, got, warnings, real, m)
	}
	if got := withMeta(real, platformMeta{}); !reflect.DeepEqual(got, real) {
		t.Errorf("withMeta without metadata changed the attributes: %v", got)
	}
}

// TestPlatformMetaVectors pins the stored form of each name and value
// (docs/format.md §5.0, "Platform metadata").
func TestPlatformMetaVectors(t *testing.T) {
	btime, flags := int64(-2), uint32(300)
	for _, c := range []struct {
		m    platformMeta
		name string
		want []byte
	}{
		{platformMeta{birthTime: &btime}, "\x00coffer.btime", []byte{0x03}},
		{platformMeta{flags: &flags}, "\x00coffer.flags", []byte{0xac, 0x02}},
		{platformMeta{winAttrs: &flags}, "\x00coffer.winattr", []byte{0xac, 0x02}},
		{platformMeta{winSD: []byte{9}}, "\x00coffer.winsd", []byte{9}},
	} {
		got := withMeta(nil, c.m)
		if len(got) != 1 || got[0].Name != c.name || string(got[0].Value) != string(c.want) {
			t.Errorf("withMeta(%+v) = %q, want %q = %x", c.m, got, c.name, c.want)
		}
	}
}

// TestPlatformMetaMalformed checks that a reserved attribute this version
// does not know, or whose value is not canonical, is a warning wrapping
// ErrNotRestored and is applied neither as metadata nor as an attribute.
func TestPlatformMetaMalformed(t *testing.T) {
	for _, x := range []tree.Xattr{
		{Name: "\x00coffer.btime", Value: []byte{0x80, 0x00}},                   // not minimal
		{Name: "\x00coffer.btime", Value: []byte{0x02, 0x02}},                   // trailing byte
		{Name: "\x00coffer.flags", Value: []byte{0x80, 0x80, 0x80, 0x80, 0x10}}, // above 2^32-1
		{Name: "\x00coffer.winattr", Value: nil},                                // empty
		{Name: "\x00coffer.winsd", Value: nil},                                  // empty
		{Name: "\x00coffer.future", Value: []byte{1}},                           // unknown
	} {
		real, m, warnings := splitMeta([]tree.Xattr{x, {Name: "user.a"}})
		if len(warnings) != 1 || !errors.Is(warnings[0], ErrNotRestored) || len(m.present()) != 0 || len(real) != 1 {
			t.Errorf("%q = %x: real %v, metadata %v, warnings %v; want one warning and nothing applied", x.Name, x.Value, real, m.present(), warnings)
		}
	}
}

// TestPlatformMetaUnsupported checks that each field a platform does not
// handle is one warning.
func TestPlatformMetaUnsupported(t *testing.T) {
	btime, flags := int64(1), uint32(2)
	m := platformMeta{birthTime: &btime, flags: &flags, winSD: []byte{1}}
	if got := m.unsupported(); len(got) != 3 {
		t.Errorf("unsupported() = %v, want 3 warnings", got)
	}
	if got := m.unsupported(metaBirthTime, metaFlags); len(got) != 1 || !errors.Is(got[0], ErrNotRestored) {
		t.Errorf("unsupported(btime, flags) = %v, want one warning, for the security descriptor", got)
	}
}

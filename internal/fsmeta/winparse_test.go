package fsmeta

import (
	"encoding/binary"
	"reflect"
	"testing"
	"unicode/utf16"
)

// sdBlob returns a self-relative security descriptor with an owner SID of
// one sub-authority at offset 20 and a DACL of dacl bytes after it.
func sdBlob(dacl int) []byte {
	b := make([]byte, 20)
	b[0] = 1
	binary.LittleEndian.PutUint16(b[2:], seSelfRelative)
	binary.LittleEndian.PutUint32(b[4:], 20)           // owner
	b = append(b, 1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0) // S-1-5-18
	binary.LittleEndian.PutUint32(b[16:], uint32(len(b)))
	acl := make([]byte, dacl)
	if dacl >= 4 {
		acl[0] = 2
		binary.LittleEndian.PutUint16(acl[2:], uint16(dacl))
	}
	return append(b, acl...)
}

// TestCheckSD checks that a descriptor is refused unless it is
// self-relative and each part it points to lies within it.
func TestCheckSD(t *testing.T) {
	good := sdBlob(8)
	cases := []struct {
		name string
		blob []byte
		ok   bool
	}{
		{"valid", good, true},
		{"short", good[:19], false},
		{"absolute", func() []byte { b := append([]byte(nil), good...); b[3] = 0; return b }(), false},
		{"DACL past the end", good[:len(good)-1], false},
		{"owner inside the header", func() []byte { b := append([]byte(nil), good...); b[4] = 8; return b }(), false},
		{"SID sub-authorities past the end", func() []byte { b := append([]byte(nil), good...); b[21] = 9; return b }(), false},
	}
	for _, c := range cases {
		if err := checkSD(c.blob); (err == nil) != c.ok {
			t.Errorf("%s: checkSD = %v, want ok %v", c.name, err, c.ok)
		}
	}
}

// streamEntry encodes one FILE_STREAM_INFO entry; next is its
// NextEntryOffset, or 0 for the last.
func streamEntry(name string, size int64, last bool) []byte {
	u := utf16.Encode([]rune(name))
	b := make([]byte, 24, 24+2*len(u)+8)
	binary.LittleEndian.PutUint32(b[4:], uint32(2*len(u)))
	binary.LittleEndian.PutUint64(b[8:], uint64(size))
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	if !last {
		binary.LittleEndian.PutUint32(b, uint32(len(b)))
	}
	return b
}

// TestParseStreamInfo checks the stream list a Windows backup warns
// about, and that a malformed list is an error, not a read out of bounds.
func TestParseStreamInfo(t *testing.T) {
	buf := append(streamEntry("::$DATA", 10, false), streamEntry(":Zone.Identifier:$DATA", 26, true)...)
	got, err := parseStreamInfo(append(buf, 0xff, 0xff)) // trailing bytes are ignored
	want := []stream{{"::$DATA", 10}, {":Zone.Identifier:$DATA", 26}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseStreamInfo = %v, %v; want %v", got, err, want)
	}
	for _, bad := range [][]byte{
		buf[:20], // truncated header
		buf[:30], // truncated name
		func() []byte { b := append([]byte(nil), buf...); b[0] = 8; return b }(),    // next inside the entry
		func() []byte { b := append([]byte(nil), buf...); b[1] = 0x7f; return b }(), // next past the end
		func() []byte { b := append([]byte(nil), buf...); b[4] = 3; return b }(),    // odd name length
	} {
		if got, err := parseStreamInfo(bad); err == nil {
			t.Errorf("parseStreamInfo(%x) = %v, want an error", bad, got)
		}
	}
}

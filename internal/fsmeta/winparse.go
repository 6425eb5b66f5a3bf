package fsmeta

import (
	"encoding/binary"
	"errors"
	"unicode/utf16"
)

// The Windows structures below are parsed here, without the Windows API,
// so that the parsing is tested on every platform.

// seSelfRelative is SE_SELF_RELATIVE, the Control bit of a security
// descriptor stored in one contiguous block.
const seSelfRelative = 0x8000

// checkSD returns an error unless blob is a self-relative security
// descriptor (SECURITY_DESCRIPTOR_RELATIVE: Revision 1, Sbz1, Control
// (uint16) with SE_SELF_RELATIVE, then the offsets of Owner, Group, Sacl
// and Dacl, uint32 each, 0 if absent) whose parts all lie within it, so that
// Windows reads nothing outside it.
func checkSD(blob []byte) error {
	const header = 20
	if len(blob) < header || blob[0] != 1 || binary.LittleEndian.Uint16(blob[2:])&seSelfRelative == 0 {
		return errors.New("not a self-relative security descriptor")
	}
	for i, isACL := range []bool{false, false, true, true} {
		off := int(binary.LittleEndian.Uint32(blob[4+4*i:]))
		if off != 0 && !partFits(blob, off, isACL) {
			return errors.New("malformed security descriptor")
		}
	}
	return nil
}

// partFits reports whether the SID (8 bytes and 4 per sub-authority, whose
// count is its second byte) or ACL (AclSize, a uint16 at offset 2) at off
// lies within blob, after the header.
func partFits(blob []byte, off int, isACL bool) bool {
	if off < 20 || off+8 > len(blob) {
		return false
	}
	size := 8 + 4*int(blob[off+1])
	if isACL {
		size = int(binary.LittleEndian.Uint16(blob[off+2:]))
	}
	return size >= 8 && off+size <= len(blob)
}

// stream is one data stream of a file.
type stream struct {
	name string
	size int64
}

// parseStreamInfo reads the FILE_STREAM_INFO entries in buf: each is
// NextEntryOffset (uint32, 0 for the last), StreamNameLength (uint32,
// bytes), StreamSize (int64), StreamAllocationSize (int64) and the name
// in UTF-16, such as "::$DATA" for the unnamed stream and ":NAME:$DATA".
func parseStreamInfo(buf []byte) ([]stream, error) {
	var streams []stream
	for off := 0; ; {
		if off+24 > len(buf) {
			return nil, errors.New("truncated stream list")
		}
		next := int(binary.LittleEndian.Uint32(buf[off:]))
		nameLen := int(binary.LittleEndian.Uint32(buf[off+4:]))
		if nameLen%2 != 0 || nameLen > len(buf)-off-24 {
			return nil, errors.New("malformed stream name")
		}
		units := make([]uint16, nameLen/2)
		for i := range units {
			units[i] = binary.LittleEndian.Uint16(buf[off+24+2*i:])
		}
		size := int64(binary.LittleEndian.Uint64(buf[off+8:]))
		streams = append(streams, stream{string(utf16.Decode(units)), size})
		if next == 0 {
			return streams, nil
		}
		if next < 24 || next > len(buf)-off {
			return nil, errors.New("malformed stream list")
		}
		off += next
	}
}

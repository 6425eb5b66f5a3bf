package webapi

import (
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNameBytes bounds a download's file name.
const maxNameBytes = 200

// SafeName returns name, a file name read from a snapshot (any bytes), as
// a name safe to save a download under on any system: valid UTF-8, no
// control or format characters (which include the bidirectional
// overrides that disguise an extension), no path separators or
// characters Windows refuses, no leading dots or spaces, at most
// maxNameBytes bytes, never empty.
func SafeName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(name, "\uFFFD") {
		switch {
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError:
			b.WriteRune('_')
		case strings.ContainsRune(`/\:*?"<>|`, r):
			b.WriteRune('_')
		default:
			b.WriteRune(r)
		}
	}
	s := strings.TrimLeft(b.String(), ". ")
	s = strings.TrimRight(s, ". ")
	for len(s) > maxNameBytes {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	if s == "" {
		return "download"
	}
	return s
}

// ContentDisposition is the header value that saves a download as
// SafeName(name).
func ContentDisposition(name string) string {
	v := mime.FormatMediaType("attachment", map[string]string{"filename": SafeName(name)})
	if v == "" {
		return "attachment"
	}
	return v
}

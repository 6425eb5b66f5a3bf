package webapi

import (
	"strings"
	"testing"
)

func TestSafeName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"photo.jpg", "photo.jpg"},
		{"../../etc/passwd", "_.._etc_passwd"},
		{"a\\b:c*d?e\"f<g>h|i", "a_b_c_d_e_f_g_h_i"},
		{"evil\u202egpj.exe", "evil_gpj.exe"},
		{"tab\tnew\nline", "tab_new_line"},
		{"\xff\xfe.txt", "_.txt"},
		{"...", "download"},
		{"", "download"},
		{" .hidden ", "hidden"},
		{strings.Repeat("é", 150), strings.Repeat("é", 100)},
	} {
		if got := SafeName(c.in); got != c.want {
			t.Errorf("SafeName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := ContentDisposition("a \"b\".txt"); got != `attachment; filename="a _b_.txt"` {
		t.Errorf("ContentDisposition: %s", got)
	}
}

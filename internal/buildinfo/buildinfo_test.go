package buildinfo

import "testing"

func TestString(t *testing.T) {
	for _, tc := range []struct {
		in   Info
		want string
	}{
		{Info{Version: "dev"}, "coffer dev"},
		{Info{Version: "(devel)", Revision: "0123456789abcdef0123", Time: "2026-12-07T08:00:00Z", Go: "go1.26.8"}, "coffer (devel) (0123456789ab, 2026-12-07T08:00:00Z) go1.26.8"},
		{Info{Version: "v1.2.3", Revision: "abc", Modified: true, Go: "go1.26.8"}, "coffer v1.2.3 (abc+changes) go1.26.8"},
	} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestRead: a test binary records its toolchain; a link-time version wins
// over the module's.
func TestRead(t *testing.T) {
	i := Read("v9.9.9")
	if i.Version != "v9.9.9" || i.Go == "" {
		t.Errorf("Read: %+v", i)
	}
	if Read("dev").Version == "dev" && Read("").Version == "" {
		t.Error("no version at all")
	}
}

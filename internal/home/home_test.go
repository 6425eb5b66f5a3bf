package home

import (
	"reflect"
	"testing"
)

// TestRemember checks that settings remember every store's account and the
// last one as the default, across saving and reading.
func TestRemember(t *testing.T) {
	h := &Home{Dir: t.TempDir() + "/home"}
	if s, err := h.Settings(); err != nil || !reflect.DeepEqual(s, Settings{}) {
		t.Fatalf("settings of a new home: %+v, %v", s, err)
	}
	steps := []struct{ loc, account string }{
		{"https://a.example#sha256=00", "11111111111111111111111111111111"},
		{"/srv/store", "22222222222222222222222222222222"},
		{"https://a.example#sha256=00", "33333333333333333333333333333333"},
	}
	want := map[string]string{}
	for _, st := range steps {
		s, err := h.Settings()
		if err != nil {
			t.Fatal(err)
		}
		s.Remember(st.loc, st.account)
		if err := h.SaveSettings(s); err != nil {
			t.Fatal(err)
		}
		want[st.loc] = st.account
		got, err := h.Settings()
		if err != nil || got.DefaultStore != st.loc || !reflect.DeepEqual(got.Accounts, want) {
			t.Errorf("after remembering %s: %+v, %v", st.loc, got, err)
		}
	}
}

// TestRememberEndpoint checks that an S3 store's endpoint is kept across
// saving and reading, replaced by a new one, and never by none.
func TestRememberEndpoint(t *testing.T) {
	h := &Home{Dir: t.TempDir() + "/home"}
	const loc = "s3://bucket/laptop"
	for _, ep := range []string{"http://127.0.0.1:7070", "", "https://s3.example:9000"} {
		s, err := h.Settings()
		if err != nil {
			t.Fatal(err)
		}
		s.RememberEndpoint(loc, ep)
		if err := h.SaveSettings(s); err != nil {
			t.Fatal(err)
		}
	}
	s, err := h.Settings()
	if err != nil || !reflect.DeepEqual(s.S3Endpoints, map[string]string{loc: "https://s3.example:9000"}) {
		t.Errorf("endpoints: %v, %v", s.S3Endpoints, err)
	}
	s.RememberEndpoint("s3://aws-bucket", "")
	if len(s.S3Endpoints) != 1 {
		t.Errorf("an empty endpoint was remembered: %v", s.S3Endpoints)
	}
}

// TestCacheDir: the cache lives under COFFER_HOME when it is set, else
// under XDG_CACHE_HOME, else ~/.cache (docs/format.md §12), in a directory
// named by the store's location.
func TestCacheDir(t *testing.T) {
	const id = "7fb9692596506b4ddd58c0dec1e7fa74" // SHA-256("s3://b/p"), first 16 bytes
	for _, tc := range []struct {
		name, cofferHome, xdg, home, want string
	}{
		{"COFFER_HOME wins", "/c", "/x", "/h", "/c/cache/" + id},
		{"XDG_CACHE_HOME", "", "/x", "/h", "/x/coffer/" + id},
		{"the home directory", "", "", "/h", "/h/.cache/coffer/" + id},
	} {
		t.Setenv("COFFER_HOME", tc.cofferHome)
		t.Setenv("XDG_CACHE_HOME", tc.xdg)
		t.Setenv("HOME", tc.home)
		got, err := CacheDir("s3://b/p")
		if err != nil || got != tc.want {
			t.Errorf("%s: CacheDir = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

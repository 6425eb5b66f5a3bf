package snapshot

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
)

var update = flag.Bool("update", false, "rewrite the golden encodings in testdata")

func fullSnapshot() *Snapshot {
	parent := blob.ID{0xaa, 0xbb}
	return &Snapshot{
		Time:     time.Date(2025, 3, 10, 9, 15, 30, 123456789, time.FixedZone("CET", 3600)),
		Hostname: "alpha.example", Username: "ann",
		Paths:    []string{"/home/ann", "/etc"},
		Tags:     []string{"daily", "<&>"},
		Tree:     blob.ID{0x01, 0x02, 0x03},
		Parent:   &parent,
		Excludes: []string{"*.tmp", "/home/ann/.cache"},
		Summary: &Summary{
			FilesNew: 10, FilesChanged: 2, FilesUnmodified: 3000,
			DirsNew: 1, DirsChanged: 4, DirsUnmodified: 200,
			BytesRead: 1 << 33, BytesAdded: 12345678, TotalFiles: 3012, TotalBytes: 1 << 34, Duration: 90*time.Second + time.Millisecond,
		},
		ProgramVersion: "coffer 0.1.0",
	}
}

func minimalSnapshot() *Snapshot {
	return &Snapshot{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Paths: []string{"/"}, Tree: blob.ID{9}}
}

// TestGolden checks the canonical encoding against testdata, and that
// decoding it and encoding again gives the same bytes.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		file string
		s    *Snapshot
	}{{"testdata/full.json", fullSnapshot()}, {"testdata/minimal.json", minimalSnapshot()}} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := Encode(tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(tc.file, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, want) {
				t.Fatalf("Encode:\n got %s\nwant %s", b, want)
			}
			s, err := Decode(want)
			if err != nil {
				t.Fatal(err)
			}
			if !s.Time.Equal(tc.s.Time) || s.Time.Format(time.RFC3339Nano) != tc.s.Time.Format(time.RFC3339Nano) {
				t.Errorf("time %v, want %v in the same zone", s.Time, tc.s.Time)
			}
			if re, err := Encode(s); err != nil || !bytes.Equal(re, want) {
				t.Fatalf("re-encoding: %v\n%s", err, re)
			}
		})
	}
}

// TestDecodeLenient checks that Decode accepts valid JSON that is not in
// canonical form.
func TestDecodeLenient(t *testing.T) {
	in := "{\n \"tree\" : \"0900000000000000000000000000000000000000000000000000000000000000\",\n" +
		" \"paths\": [\"/\"], \"tags\": [], \"time\": \"2024-01-01T00:00:00Z\" }\n"
	s, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := Encode(s)
	want, _ := Encode(minimalSnapshot())
	if !bytes.Equal(got, want) {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// TestDecodeRejects checks that Decode refuses anything outside the format.
func TestDecodeRejects(t *testing.T) {
	good, err := os.ReadFile("testdata/full.json")
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) string {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("%q not in testdata/full.json", old)
		}
		return strings.Replace(string(good), old, new, 1)
	}
	const tree = `"tree":"0102030000000000000000000000000000000000000000000000000000000000"`
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"not JSON", "snapshot"},
		{"array", "[]"},
		{"truncated", string(good[:len(good)-1])},
		{"trailing object", string(good) + "{}"},
		{"trailing garbage", string(good) + "x"},
		{"too large", string(good) + strings.Repeat(" ", MaxSize)},
		{"invalid UTF-8", edit(`"ann"`, "\"a\xffn\"")},
		{"unknown member", edit(`"username"`, `"user":"x","username"`)},
		{"unknown member in summary", edit(`"files_new"`, `"files_old":1,"files_new"`)},
		{"member in the wrong object", edit(`"files_new"`, `"hostname":"x","files_new"`)},
		{"member case folded", edit(`"tree"`, `"Tree"`)},
		{"member case folded with Kelvin sign", edit(`"tags"`, "\"ta\u212as\"")},
		{"repeated member", edit(tree, tree+`,`+tree)},
		{"null tree", edit(tree, `"tree":null`)},
		{"null parent", edit(`"parent":"aabb`+strings.Repeat("0", 60)+`"`, `"parent":null`)},
		{"no tree", edit(tree+",", "")},
		{"zero tree", edit(tree, `"tree":"`+strings.Repeat("0", 64)+`"`)},
		{"short tree", edit(tree, `"tree":"0102"`)},
		{"no time", edit(`"time":"2025-03-10T09:15:30.123456789+01:00",`, "")},
		{"time not RFC 3339", edit(`2025-03-10T09:15:30.123456789+01:00`, `2025-03-10 09:15:30`)},
		{"zero parent", edit(`"parent":"aabb`, `"parent":"0000`)},
		{"no paths", edit(`"paths":["/home/ann","/etc"]`, `"paths":[]`)},
		{"relative path", edit(`"/etc"`, `"etc"`)},
		{"unclean path", edit(`"/etc"`, `"/etc/"`)},
		{"dot-dot path", edit(`"/etc"`, `"/home/../etc"`)},
		{"NUL in path", edit(`"/etc"`, `"/e\u0000tc"`)},
		{"repeated path", edit(`"/etc"`, `"/home/ann"`)},
		{"empty tag", edit(`"daily"`, `""`)},
		{"comma in tag", edit(`"daily"`, `"da,ily"`)},
		{"repeated tag", edit(`"<&>"`, `"daily"`)},
		{"negative count", edit(`"files_new":10`, `"files_new":-10`)},
		{"fractional count", edit(`"files_new":10`, `"files_new":10.5`)},
		{"count beyond 64 bits", edit(`"files_new":10`, `"files_new":18446744073709551616`)},
		{"negative duration", edit(`"duration_ns":90001000000`, `"duration_ns":-1`)},
		{"string for number", edit(`"files_new":10`, `"files_new":"10"`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode([]byte(tc.in)); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

// TestEncodeRejects checks that Encode refuses what Decode would refuse.
func TestEncodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Snapshot)
	}{
		{"zero time", func(s *Snapshot) { s.Time = time.Time{} }},
		{"zero tree", func(s *Snapshot) { s.Tree = blob.ID{} }},
		{"zero parent", func(s *Snapshot) { s.Parent = &blob.ID{} }},
		{"relative path", func(s *Snapshot) { s.Paths = []string{"home"} }},
		{"bad tag", func(s *Snapshot) { s.Tags = []string{"a,b"} }},
		{"negative duration", func(s *Snapshot) { s.Summary.Duration = -time.Second }},
		{"path not UTF-8", func(s *Snapshot) { s.Paths = []string{"/home/\xff"} }},
		{"exclude not UTF-8", func(s *Snapshot) { s.Excludes = []string{"\xff"} }},
		{"too large", func(s *Snapshot) { s.Hostname = strings.Repeat("h", MaxSize) }},
		{"year beyond 9999", func(s *Snapshot) { s.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fullSnapshot()
			tc.mutate(s)
			if _, err := Encode(s); err == nil {
				t.Fatal("encoded")
			}
		})
	}
}

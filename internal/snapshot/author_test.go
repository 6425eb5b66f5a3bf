package snapshot

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// by returns s as written by device dev, append-only or not.
func by(s Stored, dev string, appendOnly bool) Stored {
	s.Author = Author{Device: dev, AppendOnly: appendOnly}
	s.Hostname, s.Paths = "host", []string{"/data"}
	return s
}

// TestLatestSkipsAppendOnly: a snapshot an append-only device wrote, even
// dated later, is never "latest" unless the caller chose that device.
func TestLatestSkipsAppendOnly(t *testing.T) {
	full, forged := by(stored("aa", 100), "laptop", false), by(stored("bb", 900), "nas", true)
	for _, tc := range []struct {
		name  string
		find  func([]Stored, string) (Stored, error)
		snaps []Stored
		want  string
		err   error
	}{
		{"Find skips the append-only one", Find, []Stored{full, forged}, "aa", nil},
		{"Find with only append-only snapshots", Find, []Stored{forged}, "", ErrNotFound},
		{"FindOf a chosen append-only device", FindOf, []Stored{forged}, "bb", nil},
		{"FindOf nothing", FindOf, nil, "", ErrNotFound},
		{"prefix of an append-only one", func(s []Stored, _ string) (Stored, error) { return Find(s, "bb") }, []Stored{full, forged}, "bb", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.find(tc.snaps, Latest)
			if !errors.Is(err, tc.err) || (err == nil && got.ID.String()[:2] != tc.want) {
				t.Fatalf("got %v, %v; want %s, %v", got.ID, err, tc.want, tc.err)
			}
		})
	}
}

// TestRetentionByAuthor: twelve snapshots of one device, dated in the
// future, do not push another device's snapshot of the same host and paths
// out of a monthly policy.
func TestRetentionByAuthor(t *testing.T) {
	snaps := []Stored{by(stored("aa", 100), "laptop", false)}
	for i := range 12 {
		s := by(stored(fmt.Sprintf("b%02x", i), 0), "nas", true)
		s.Time = time.Unix(100, 0).AddDate(0, i+1, 0).UTC()
		snaps = append(snaps, s)
	}
	keep, _ := Apply(snaps, Policy{Daily: 7, Weekly: 5, Monthly: 12})
	for _, k := range keep {
		if k.Author.Device == "laptop" {
			return
		}
	}
	t.Fatal("the full device's only snapshot was not kept")
}

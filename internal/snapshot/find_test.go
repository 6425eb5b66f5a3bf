package snapshot

import (
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
)

func stored(id string, sec int) Stored {
	var b blob.ID
	if _, err := hex.Decode(b[:], []byte(id+strings.Repeat("0", 64-len(id)))); err != nil {
		panic(err)
	}
	return Stored{ID: b, Snapshot: &Snapshot{Time: time.Unix(int64(sec), 0).UTC()}}
}

func TestFind(t *testing.T) {
	snaps := []Stored{
		stored("abcd12", 100),
		stored("abcd34", 300),
		stored("ef01", 200),
		stored("0f", 300), // ties with abcd34 on time, smaller ID
	}
	for _, tc := range []struct {
		ref  string
		snap []Stored
		want string // ID prefix found, or "" if an error is wanted
		err  error
	}{
		{"latest", snaps, "abcd34", nil},
		{"latest", snaps[:1], "abcd12", nil},
		{"latest", nil, "", ErrNotFound},
		{"ef", snaps, "ef01", nil},
		{"EF0", snaps, "ef01", nil},
		{"abcd1", snaps, "abcd12", nil},
		{"0", snaps, "0f", nil},
		{snaps[1].ID.String(), snaps, "abcd34", nil},
		{"abcd", snaps, "", ErrAmbiguous},
		{"a", snaps, "", ErrAmbiguous},
		{"12", snaps, "", ErrNotFound},
		{"", snaps, "", ErrNotFound},
		{"xyz", snaps, "", ErrNotFound},
		{"Latest", snaps, "", ErrNotFound},
		{snaps[1].ID.String() + "0", snaps, "", ErrNotFound},
	} {
		got, err := Find(tc.snap, tc.ref)
		switch {
		case tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("Find(%q) err = %v, want %v", tc.ref, err, tc.err)
		case tc.err == nil && (err != nil || !strings.HasPrefix(got.ID.String(), tc.want)):
			t.Errorf("Find(%q) = %v, %v; want %s", tc.ref, got.ID.Short(), err, tc.want)
		}
	}
	if _, err := Find(snaps, "abcd"); err == nil || !strings.Contains(err.Error(), "2 snapshot IDs") {
		t.Errorf("ambiguous error does not give the count: %v", err)
	}
}

func TestSort(t *testing.T) {
	want := []Stored{stored("ff", 100), stored("01", 200), stored("02", 200), stored("00", 300)}
	for _, perm := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}} {
		got := make([]Stored, len(perm))
		for i, j := range perm {
			got[i] = want[j]
		}
		Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("Sort of permutation %v gives another order", perm)
		}
	}
}

package pruner

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/repo"
)

// TestPlanGolden pins the plan encoding of docs/format.md §8.3, above all
// the difference between an open plan ("sessions": null) and a complete
// one with no session to wait for ("sessions": []), on which the
// protocol's safety rests.
func TestPlanGolden(t *testing.T) {
	for _, tc := range []struct {
		file     string
		open     bool
		sessions []string
	}{
		{"plan-open.json", true, nil},
		{"plan-complete-idle.json", false, []string{}},
		{"plan-complete-busy.json", false, []string{"00112233445566778899aabbccddeeff"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			golden, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			var p repo.PrunePlan
			if err := json.Unmarshal(golden, &p); err != nil {
				t.Fatal(err)
			}
			want := repo.PrunePlan{
				Created:  time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
				Packs:    []blob.ID{{1}, {2}},
				Index:    []blob.ID{{3}},
				Sessions: tc.sessions,
			}
			if (p.Sessions == nil) != tc.open || !slices.Equal(p.Sessions, want.Sessions) ||
				!p.Created.Equal(want.Created) || !slices.Equal(p.Packs, want.Packs) || !slices.Equal(p.Index, want.Index) {
				t.Errorf("decoded %+v", p)
			}
			b, err := json.Marshal(&want)
			if err != nil || !bytes.Equal(b, golden) {
				t.Errorf("encoded %s (%v), want %s", b, err, golden)
			}
		})
	}
}

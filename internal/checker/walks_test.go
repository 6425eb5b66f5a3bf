package checker_test

import (
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/testtree/testrepo"
)

// TestSharedTreesOverBudget checks that check reports a snapshot whose
// trees, all valid, make a walk of 2^42 items, and one nesting directories
// deeper than readers walk.
func TestSharedTreesOverBudget(t *testing.T) {
	r := testrepo.New(t)
	doubling := r.DoublingSnapshot(t, 40)
	deep := r.DeepSnapshot(t, 2049, 1)
	rep := check(t, r.Reopen(t), false)
	want := []string{
		"snapshot " + doubling.ID.Short() + ": tree walk exceeds budget of 1048576 entries: the snapshot may be hostile",
		"snapshot " + deep.ID.Short() + ": tree walk exceeds budget of 2048 nested directories: the snapshot may be hostile",
	}
	if len(rep.Errors) != 2 {
		t.Fatalf("errors %q, want %q", rep.Errors, want)
	}
	for _, w := range want {
		if !contains(rep.Errors, w) {
			t.Errorf("errors %q lack %q", rep.Errors, w)
		}
	}
	if strings.Contains(strings.Join(rep.Errors, "\n"), "corrupt") {
		t.Errorf("valid trees reported as corrupt: %q", rep.Errors)
	}
}

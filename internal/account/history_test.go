package account_test

import (
	"fmt"
	"testing"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/store"
)

// TestFindDevice: a device is named by its name or an ID prefix of 4 or
// more digits; one that fits none or several is refused, and Resolve then
// returns the reference unchanged.
func TestFindDevice(t *testing.T) {
	f := newFixture(t)
	phone := f.addDevice(t, "phone")
	for _, tc := range []struct {
		ref, want string
		ok        bool
	}{
		{"phone", phone.ID, true},
		{phone.ID[:4], phone.ID, true},
		{phone.ID, phone.ID, true},
		{phone.ID[:3], "", false},
		{"tablet", "", false},
	} {
		got, err := f.c.Find(tc.ref)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Find(%q) = %q, %v; want %q", tc.ref, got, err, tc.want)
		}
		if r := f.c.Resolve(tc.ref); tc.ok && r != tc.want || !tc.ok && r != tc.ref {
			t.Errorf("Resolve(%q) = %q", tc.ref, r)
		}
	}
}

// TestReadHistoryUntil: reading until a match reads the newest batch that
// holds it and no older one, while a missing snapshot is reported however
// old it is; without a match every snapshot is read.
func TestReadHistoryUntil(t *testing.T) {
	f := newFixture(t)
	var ids []blob.ID
	for i := range 40 {
		ids = append(ids, f.recordSnapshot(t, fmt.Sprint(i)))
	}
	if err := f.st.Delete(ctx, store.Snapshots, ids[0].String()); err != nil {
		t.Fatal(err)
	}
	is := func(id blob.ID) func(snapshot.Stored) bool {
		return func(s snapshot.Stored) bool { return s.ID == id && s.Author.Device == f.dev.ID }
	}
	for _, tc := range []struct {
		name  string
		match func(snapshot.Stored) bool
		read  int
	}{
		{"the newest", is(ids[39]), 16},
		{"in the second batch", is(ids[20]), 32},
		{"the oldest present", is(ids[1]), 39},
		{"none", func(snapshot.Stored) bool { return false }, 39},
		{"all", nil, 39},
	} {
		h, err := account.ReadHistoryUntil(ctx, f.r, f.c, tc.match)
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Snapshots) != tc.read {
			t.Errorf("%s: read %d snapshots, want %d", tc.name, len(h.Snapshots), tc.read)
		}
		if len(h.Missing) != 1 || blob.ID(h.Missing[0].ID) != ids[0] {
			t.Errorf("%s: missing %v, want the deleted oldest", tc.name, h.Missing)
		}
	}
}

package account_test

import (
	"testing"
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

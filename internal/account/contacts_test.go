package account_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/pairing"
	"github.com/coffer-backup/coffer/internal/repo"
)

// setContacts makes contacts f's recovery contacts, k of them needed, and
// returns each one's code.
func (f *fixture) setContacts(t *testing.T, contacts []*keys.Device, k int) []*pairing.ShareCode {
	t.Helper()
	var pubs []keys.DevicePublic
	for _, d := range contacts {
		pubs = append(pubs, d.Public())
	}
	c, err := account.SetContacts(ctx, f.r, f.c, f.dev, pubs, k)
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	codes := make([]*pairing.ShareCode, len(contacts))
	for i, d := range contacts {
		if codes[i], err = account.HelpContact(ctx, f.st, f.acct, d, nil); err != nil {
			t.Fatalf("contact %d: %v", i, err)
		}
	}
	return codes
}

// contactsDevice returns the ID of f's current recovery contacts' device.
func contactsDevice(t *testing.T, c *account.Chain) string {
	t.Helper()
	var ids []string
	for _, m := range c.Devices() {
		if m.Public.Name == account.ContactsDeviceName {
			ids = append(ids, m.Public.ID)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%d recovery contacts' devices in the chain", len(ids))
	}
	return ids[0]
}

// recoverWith recovers a new device of f's account from codes; it returns
// the device and the error.
func recoverWith(t *testing.T, f *fixture, codes []*pairing.ShareCode) (*keys.Device, error) {
	t.Helper()
	acct, dc, err := account.CombineCodes(codes)
	if err != nil {
		return nil, err
	}
	if acct != f.acct {
		t.Fatalf("the codes are for account %s, not %s", acct, f.acct)
	}
	dev := newDevice(t, "new laptop")
	c, err := account.RecoverWithContacts(ctx, f.st, acct, dc, dev, nil)
	if err != nil {
		return nil, err
	}
	if err := c.Member(dev); err != nil {
		t.Fatal(err)
	}
	r, err := repo.OpenChain(ctx, f.st, dev, c.Chain)
	if err != nil {
		t.Fatalf("the recovered device: %v", err)
	}
	r.Close()
	f.c = c
	return dev, nil
}

func pick(codes []*pairing.ShareCode, idx ...int) []*pairing.ShareCode {
	var out []*pairing.ShareCode
	for _, i := range idx {
		out = append(out, codes[i])
	}
	return out
}

// TestContacts: any two of three contacts' codes recover the account; one
// code, or codes of contacts since replaced, do not; replacing the
// contacts retires their device with a new epoch; only a current contact
// gets a code.
func TestContacts(t *testing.T) {
	f := newFixture(t)
	friends := []*keys.Device{newDevice(t, "friend"), newDevice(t, "sister"), newDevice(t, "neighbour")}
	old := f.setContacts(t, friends, 2)
	oldDC := contactsDevice(t, f.c)
	if f.c.Epoch() != 0 {
		t.Fatalf("the first contacts started epoch %d", f.c.Epoch())
	}
	if _, err := account.HelpContact(ctx, f.st, f.acct, newDevice(t, "stranger"), nil); err == nil || !strings.Contains(err.Error(), "not a recovery contact") {
		t.Errorf("a stranger's help: %v", err)
	}

	// Contacts replaced: the third friend dropped, a cousin added.
	cousin := newDevice(t, "cousin")
	epoch := f.c.Epoch()
	cur := f.setContacts(t, []*keys.Device{friends[0], friends[1], cousin}, 2)
	if seq, ok := f.c.Removed(oldDC); !ok || f.c.Epoch() != epoch+1 {
		t.Fatalf("the old contacts' device: removed %v (entry %d); epoch %d, want %d", ok, seq, f.c.Epoch(), epoch+1)
	}
	if contactsDevice(t, f.c) == oldDC {
		t.Fatal("the new contacts have the old contacts' device")
	}
	if _, err := account.HelpContact(ctx, f.st, f.acct, friends[2], nil); err == nil {
		t.Error("a dropped contact still gets a code")
	}
	for i := range 2 {
		if cur[i].String() == old[i].String() {
			t.Errorf("contact %d's code did not change", i)
		}
	}

	for _, tc := range []struct {
		name  string
		codes []*pairing.ShareCode
		want  error // nil: recovers
		any   bool  // any error will do
	}{
		{"first and second", pick(cur, 0, 1), nil, false},
		{"second and third", pick(cur, 1, 2), nil, false},
		{"first and third", pick(cur, 0, 2), nil, false},
		{"all three", cur, nil, false},
		{"one code", pick(cur, 1), account.ErrContactCodes, false},
		{"the same code twice", pick(cur, 0, 0), nil, true},
		{"no code", nil, nil, true},
		{"the replaced contacts' codes", pick(old, 0, 1), account.ErrContactCodes, false},
		{"all the replaced contacts' codes", old, account.ErrContactCodes, false},
		{"one replaced, one current", []*pairing.ShareCode{old[0], cur[1]}, account.ErrContactCodes, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := f.c.Len()
			_, err := recoverWith(t, f, tc.codes)
			switch {
			case tc.any && err == nil, !tc.any && !errors.Is(err, tc.want), !tc.any && (err == nil) != (tc.want == nil):
				t.Fatalf("recovering: %v, want %v", err, tc.want)
			}
			if err != nil && mustFirstUse(t, f).Len() != n {
				t.Error("a refused recovery changed the chain")
			}
		})
	}
}

package devices

import (
	"errors"
	"testing"
)

// TestTwoStepAdd builds an add-device entry the way pairing does, across
// two parties, and checks that the new device countersigns only an entry
// that adds exactly itself on top of the chain it was shown.
func TestTwoStepAdd(t *testing.T) {
	_, states := standardChain(t)
	c := states[0] // laptop only
	laptop, phone, desktop := dev(t, "laptop"), dev(t, "phone"), dev(t, "desktop")
	p, err := c.PrepareAdd(ByDevice(laptop), phone.Public(), Full, at(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		account string
		dev     string
		part    []byte
		want    error
	}{
		{"other device", account, "desktop", p.SignedPart(), ErrInvalid},
		{"other account", "someone-else", "phone", p.SignedPart(), ErrWrongAccount},
		{"truncated", account, "phone", p.SignedPart()[:60], ErrMalformed},
		{"not an add", account, "phone", rotateSignedPart(t, c), ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := Countersign(tc.account, dev(t, tc.dev), tc.part); !errors.Is(err, tc.want) {
				t.Fatalf("Countersign: %v, want %v", err, tc.want)
			}
		})
	}
	bad, _, err := Countersign(account, phone, p.SignedPart())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Finish(bad[:63]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Finish with a short countersignature: %v", err)
	}
	forged, _ := (&PendingAdd{chain: c, entry: p.entry}).Finish(make([]byte, 64))
	if forged != nil {
		t.Fatal("Finish accepted a zero countersignature")
	}
	cs, seq, err := Countersign(account, phone, p.SignedPart())
	if err != nil || seq != 1 {
		t.Fatalf("Countersign: seq %d, %v", seq, err)
	}
	b, err := p.Finish(cs)
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.Extend([][]byte{b})
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := n.Device(phone.ID); !ok || m.AddedBy != laptop.ID || !m.AddedTime.Equal(at(1)) {
		t.Fatalf("phone after the add: %+v, %v", m, ok)
	}
	if _, ok := n.Device(desktop.ID); ok {
		t.Fatal("desktop appeared")
	}
	if !n.Holds(1, p.SignedPart()) || n.Holds(0, p.SignedPart()) || c.Holds(1, p.SignedPart()) {
		t.Fatal("Holds does not find exactly the countersigned entry")
	}
	other, err := states[0].PrepareAdd(ByDevice(laptop), phone.Public(), Full, at(2))
	if err != nil {
		t.Fatal(err)
	}
	if n.Holds(1, other.SignedPart()) {
		t.Fatal("Holds accepted another signed part at the same position")
	}
}

// rotateSignedPart returns the signed part of a rotate-key entry on c.
func rotateSignedPart(t *testing.T, c *Chain) []byte {
	b, err := c.RotateKey(ByDevice(dev(t, "laptop")), commit(9), at(1))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return e.signedPart()
}

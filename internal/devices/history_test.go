package devices

import (
	"errors"
	"slices"
	"testing"
)

// TestHistory checks what the standard chain's snapshot, forget and plan
// entries leave in the state, and the rights each signer has.
func TestHistory(t *testing.T) {
	_, states := standardChain(t)
	c := states[len(states)-1]
	sister, laptop := dev(t, "sister"), dev(t, "laptop")
	if m, _ := c.Device(sister.ID); m.Rights != AppendOnly {
		t.Errorf("sister has %s rights", m.Rights)
	}
	if m, _ := c.Device(laptop.ID); m.Rights != Full {
		t.Errorf("laptop has %s rights", m.Rights)
	}
	if _, ok := c.Snapshot(object(0x51)); ok {
		t.Error("forgotten snapshot still recorded")
	}
	if seq, ok := c.Forgotten(object(0x51)); !ok || seq != 11 {
		t.Errorf("forgotten at %d %v, want 11", seq, ok)
	}
	r, ok := c.Snapshot(object(0x52))
	if !ok || r.Author != laptop.ID || r.AppendOnly || r.Seq != 10 || len(c.Snapshots()) != 1 {
		t.Errorf("snapshot record %+v %v, %d live", r, ok, len(c.Snapshots()))
	}
	if r, ok := states[9].Snapshot(object(0x51)); !ok || r.Author != sister.ID || !r.AppendOnly {
		t.Errorf("sister's snapshot record %+v %v", r, ok)
	}
	if r, ok := c.Plan(object(0x53)); !ok || r.Author != laptop.ID {
		t.Errorf("plan record %+v %v", r, ok)
	}
}

// TestHistoryRefuses covers the rights and state rules of docs/devices.md
// §D.4 for the entries that record snapshots and plans.
func TestHistoryRefuses(t *testing.T) {
	_, states := standardChain(t)
	c := states[len(states)-1]
	sister, laptop := dev(t, "sister"), dev(t, "laptop")
	rec := recovery(t, recoveryText2)
	tests := []struct {
		name string
		e    *Entry
		by   string
		want error
	}{
		{"append-only forgets", &Entry{Type: TypeForget, Forget: []ObjectID{object(0x52)}}, "sister", ErrNoRight},
		{"append-only records a plan", &Entry{Type: TypePrunePlan, Object: object(0x54)}, "sister", ErrNoRight},
		{"append-only rotates the key", &Entry{Type: TypeRotateKey, Epoch: 3, Commit: commit(3)}, "sister", ErrNoRight},
		{"append-only removes a device", &Entry{Type: TypeRemoveDevice, Remove: laptop.ID, Epoch: 3, Commit: commit(3)}, "sister", ErrNoRight},
		{"recovery records a snapshot", &Entry{Type: TypeSnapshot, Object: object(0x54)}, "recovery", ErrNoRight},
		{"recovery forgets", &Entry{Type: TypeForget, Forget: []ObjectID{object(0x52)}}, "recovery", ErrNoRight},
		{"snapshot recorded twice", &Entry{Type: TypeSnapshot, Object: object(0x52)}, "laptop", ErrInvalid},
		{"forgotten snapshot brought back", &Entry{Type: TypeSnapshot, Object: object(0x51)}, "sister", ErrInvalid},
		{"forget of an unknown snapshot", &Entry{Type: TypeForget, Forget: []ObjectID{object(0x99)}}, "laptop", ErrInvalid},
		{"forget twice", &Entry{Type: TypeForget, Forget: []ObjectID{object(0x51)}}, "laptop", ErrInvalid},
		{"plan recorded twice", &Entry{Type: TypePrunePlan, Object: object(0x53)}, "laptop", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b []byte
			switch tt.by {
			case "recovery":
				b = forge(t, c, tt.e, Recovery, rec.SigningKey(), nil)
			case "sister":
				b = forge(t, c, tt.e, sister.ID, sister.Sign, nil)
			default:
				b = forge(t, c, tt.e, laptop.ID, laptop.Sign, nil)
			}
			if _, err := c.Extend([][]byte{b}); !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := c.RecordSnapshot(ByDevice(sister), object(0x54), at(50)); err != nil {
		t.Errorf("append-only device recording a snapshot: %v", err)
	}
}

// TestForgetLimits checks the encoding bounds of a forget entry.
func TestForgetLimits(t *testing.T) {
	_, states := standardChain(t)
	c := states[len(states)-1]
	laptop := dev(t, "laptop")
	many := make([]ObjectID, MaxForget+1)
	for i := range many {
		many[i][0], many[i][1] = byte(i), byte(i>>8)
	}
	for _, ids := range [][]ObjectID{nil, many, {object(0x52), object(0x52)}} {
		b := forge(t, c, &Entry{Type: TypeForget, Forget: ids}, laptop.ID, laptop.Sign, nil)
		if _, err := Parse(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d IDs: %v", len(ids), err)
		}
	}
}

// TestReplay checks that Replay rebuilds the state Verify does, and still
// refuses entries out of order or unlinked, though it skips signatures.
func TestReplay(t *testing.T) {
	entries, states := standardChain(t)
	c, err := Replay(account, entries)
	if err != nil {
		t.Fatal(err)
	}
	want := states[len(states)-1]
	if c.Head() != want.Head() || len(c.Devices()) != len(want.Devices()) || len(c.Snapshots()) != 1 || c.Epoch() != want.Epoch() {
		t.Errorf("replayed state differs: head %x, %d devices", c.Head(), len(c.Devices()))
	}
	bad := append(slices.Clone(entries[:3]), entries[4])
	if _, err := Replay(account, bad); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("a gap: %v", err)
	}
	n, err := c.Extend([][]byte{flip(forge(t, c, &Entry{Type: TypeSnapshot, Object: object(0x60)}, dev(t, "laptop").ID, dev(t, "laptop").Sign, nil), -1)})
	if !errors.Is(err, ErrBadSignature) || n != nil {
		t.Errorf("a replayed chain extended by a bad signature: %v", err)
	}
}

package devices

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/keys"
)

func ids(t *testing.T, names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, dev(t, n).ID)
	}
	slices.Sort(out)
	return out
}

func TestVerifyValid(t *testing.T) {
	entries, _ := standardChain(t)
	tests := []struct {
		n         int
		devices   []string
		removed   []string
		epoch     uint64
		recovery  string
		contacts  int
		threshold int
	}{
		{1, []string{"laptop"}, nil, 0, recoveryText1, 0, 0},
		{2, []string{"laptop", "phone"}, nil, 0, recoveryText1, 0, 0},
		{3, []string{"laptop", "phone", "desktop"}, nil, 0, recoveryText1, 0, 0},
		{4, []string{"laptop", "phone", "desktop"}, nil, 0, recoveryText1, 2, 2},
		{5, []string{"laptop", "desktop"}, []string{"phone"}, 1, recoveryText1, 2, 2},
		{6, []string{"laptop", "desktop"}, []string{"phone"}, 1, recoveryText2, 2, 2},
		{7, []string{"laptop", "desktop"}, []string{"phone"}, 2, recoveryText2, 2, 2},
		{8, []string{"laptop", "desktop", "friend"}, []string{"phone"}, 2, recoveryText2, 2, 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			c, err := Verify(account, entries[:tt.n])
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range c.Devices() {
				got = append(got, m.Public.ID)
			}
			if want := ids(t, tt.devices...); !slices.Equal(got, want) {
				t.Errorf("devices %v, want %v", got, want)
			}
			for _, n := range tt.removed {
				if seq, ok := c.Removed(dev(t, n).ID); !ok || seq != 4 {
					t.Errorf("%s removed %v at %d, want at 4", n, ok, seq)
				}
			}
			if _, ok := c.Removed(dev(t, "laptop").ID); ok {
				t.Error("laptop reported removed")
			}
			if c.Epoch() != tt.epoch || !c.Recovery().Equal(recoveryPub(t, tt.recovery)) {
				t.Errorf("epoch %d recovery %x, want %d and %s", c.Epoch(), c.Recovery(), tt.epoch, tt.recovery)
			}
			if cs, k := c.Contacts(); len(cs) != tt.contacts || k != tt.threshold {
				t.Errorf("%d contacts, k %d; want %d, %d", len(cs), k, tt.contacts, tt.threshold)
			}
			if c.Len() != uint64(tt.n) || c.Head() != Hash(entries[tt.n-1]) || c.Account() != account {
				t.Errorf("len %d head %x account %q", c.Len(), c.Head(), c.Account())
			}
			for e := range tt.epoch + 1 {
				if got, ok := c.Commitment(e); !ok || got != commit(byte(e)) {
					t.Errorf("epoch %d commitment %x %v", e, got, ok)
				}
			}
			if _, ok := c.Commitment(tt.epoch + 1); ok {
				t.Error("commitment of a future epoch")
			}
		})
	}
}

func TestMembers(t *testing.T) {
	_, states := standardChain(t)
	c := states[len(states)-1]
	for _, tt := range []struct {
		name, by string
		at       uint64
	}{
		{"laptop", "laptop", 0},
		{"desktop", Recovery, 2},
		{"friend", Recovery, 7},
	} {
		m, ok := c.Device(dev(t, tt.name).ID)
		by := tt.by
		if by != Recovery {
			by = dev(t, by).ID
		}
		if !ok || m.AddedBy != by || m.AddedAt != tt.at || m.Public.Name != tt.name {
			t.Errorf("%s: %+v %v", tt.name, m, ok)
		}
	}
	if _, ok := c.Device(dev(t, "phone").ID); ok {
		t.Error("removed phone still a member")
	}
	m, _ := states[1].Device(dev(t, "phone").ID)
	if m.AddedBy != dev(t, "laptop").ID || m.AddedAt != 1 {
		t.Errorf("phone: %+v", m)
	}
}

// forge signs e as the next entry of c with any key, bypassing the
// builders' checks, to make entries Verify must refuse.
func forge(t *testing.T, c *Chain, e *Entry, signer string, key ed25519.PrivateKey, counter *keys.Device) []byte {
	t.Helper()
	var cs func([]byte) []byte
	if counter != nil {
		cs = countersigner(counter)
	}
	return c.sign(e, Signer{id: signer, key: key}, cs, at(99))
}

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[(i+len(b))%len(b)] ^= 1
	return b
}

func TestVerifyRefuses(t *testing.T) {
	entries, states := standardChain(t)
	laptop, phone, stranger := dev(t, "laptop"), dev(t, "phone"), dev(t, "stranger")
	rk1, rk2 := recovery(t, recoveryText1).SigningKey(), recovery(t, recoveryText2).SigningKey()
	recoveryDev := &keys.Device{Sign: rk1} // countersigns as the first recovery key
	c3, c5, c8 := states[2], states[4], states[7]
	with := func(n int, extra ...[]byte) [][]byte {
		return append(slices.Clone(entries[:n]), extra...)
	}
	replace := func(i int, b []byte) [][]byte {
		out := slices.Clone(entries)
		out[i] = b
		return out
	}
	otherAccount, err := NewGenesis("bob@example.org", laptop, recovery(t, recoveryText1), commit(0), at(0))
	if err != nil {
		t.Fatal(err)
	}
	badPrev := &Entry{Type: TypeRotateKey, Epoch: 3, Commit: commit(3)}
	wrongHead := c8.Head()
	wrongHead[0] ^= 1
	badPrevBytes := forge(t, &Chain{account: account, hashes: append(slices.Clone(c8.hashes[:7]), wrongHead)}, badPrev, laptop.ID, laptop.Sign, nil)
	tests := []struct {
		name    string
		entries [][]byte
		account string
		seq     uint64
		want    error
	}{
		{"empty", nil, account, 0, ErrMalformed},
		{"forged signature", replace(1, flip(entries[1], -70)), account, 1, ErrBadSignature},
		{"altered time", replace(3, flip(entries[3], 48)), account, 3, ErrBadSignature},
		{"forged countersignature", replace(1, flip(entries[1], -1)), account, 1, ErrBadSignature},
		{"missing countersignature", replace(1, entries[1][:len(entries[1])-64]), account, 1, ErrMissingCountersign},
		{"countersigned by another key", with(3, forge(t, c3, &Entry{Type: TypeAddDevice, Device: stranger.Public()}, laptop.ID, laptop.Sign, laptop)), account, 3, ErrBadSignature},
		{"signer removed", with(5, forge(t, c5, &Entry{Type: TypeRotateKey, Epoch: 2, Commit: commit(2)}, phone.ID, phone.Sign, nil)), account, 5, ErrRemovedSigner},
		{"removed device adds itself back", with(5, forge(t, c5, &Entry{Type: TypeAddDevice, Device: phone.Public()}, laptop.ID, laptop.Sign, phone)), account, 5, ErrDuplicateDevice},
		{"unknown signer", with(3, forge(t, c3, &Entry{Type: TypeRotateKey, Epoch: 1, Commit: commit(1)}, stranger.ID, stranger.Sign, nil)), account, 3, ErrUnknownSigner},
		{"signed by a key other than the named device", with(3, forge(t, c3, &Entry{Type: TypeRotateKey, Epoch: 1, Commit: commit(1)}, laptop.ID, stranger.Sign, nil)), account, 3, ErrBadSignature},
		{"old recovery key after rotation", with(8, forge(t, c8, &Entry{Type: TypeRotateKey, Epoch: 3, Commit: commit(3)}, Recovery, rk1, nil)), account, 8, ErrBadSignature},
		{"new recovery key", with(8, forge(t, c8, &Entry{Type: TypeRotateKey, Epoch: 3, Commit: commit(3)}, Recovery, rk2, nil)), account, 9, nil},
		{"duplicate device", with(3, forge(t, c3, &Entry{Type: TypeAddDevice, Device: phone.Public()}, laptop.ID, laptop.Sign, phone)), account, 3, ErrDuplicateDevice},
		{"sequence gap", append(with(2), entries[3:]...), account, 3, ErrOutOfOrder},
		{"swapped entries", append(with(2, entries[3], entries[2]), entries[4:]...), account, 3, ErrOutOfOrder},
		{"repeated entry", with(3, entries[2]), account, 2, ErrOutOfOrder},
		{"does not start at genesis", entries[1:], account, 1, ErrOutOfOrder},
		{"wrong previous hash", with(8, badPrevBytes), account, 8, ErrBadLink},
		{"second genesis", with(2, otherAccount), "bob@example.org", 0, ErrWrongAccount},
		{"genesis of another account", entries, "bob@example.org", 0, ErrWrongAccount},
		{"entry of another account", with(1, otherAccount), account, 0, ErrWrongAccount},
		{"truncated", replace(2, entries[2][:100]), account, 2, ErrMalformed},
		{"trailing byte", replace(2, append(slices.Clone(entries[2]), 0)), account, 2, ErrMalformed},
		{"unknown version", replace(0, flip(entries[0], 0)), account, 0, ErrMalformed},
		{"unknown type", replace(3, append([]byte{1, 9}, entries[3][2:]...)), account, 3, ErrMalformed},
		{"oversized", with(1, make([]byte, MaxEntrySize+1)), account, 1, ErrMalformed},
		{"bad device record", replace(1, flip(entries[1], 100)), account, 1, ErrMalformed},
		{"remove unknown device", with(3, forge(t, c3, &Entry{Type: TypeRemoveDevice, Remove: stranger.ID, Epoch: 1, Commit: commit(1)}, laptop.ID, laptop.Sign, nil)), account, 3, ErrInvalid},
		{"remove with a skipped epoch", with(3, forge(t, c3, &Entry{Type: TypeRemoveDevice, Remove: phone.ID, Epoch: 2, Commit: commit(2)}, laptop.ID, laptop.Sign, nil)), account, 3, ErrInvalid},
		{"rotate to the same epoch", with(3, forge(t, c3, &Entry{Type: TypeRotateKey, Epoch: 0, Commit: commit(1)}, laptop.ID, laptop.Sign, nil)), account, 3, ErrInvalid},
		{"remove the last device", with(1, forge(t, states[0], &Entry{Type: TypeRemoveDevice, Remove: laptop.ID, Epoch: 1, Commit: commit(1)}, laptop.ID, laptop.Sign, nil)), account, 1, ErrInvalid},
		{"genesis signed by another device", [][]byte{forge(t, &Chain{account: account}, &Entry{Type: TypeGenesis, Device: laptop.Public(), Recovery: rk1.Public().(ed25519.PublicKey)}, phone.ID, phone.Sign, recoveryDev)}, account, 0, ErrUnknownSigner},
		// A store that makes up a chain around a recovery key's public key
		// cannot countersign for it.
		{"genesis not countersigned by its recovery key", [][]byte{forge(t, &Chain{account: account}, &Entry{Type: TypeGenesis, Device: laptop.Public(), Recovery: rk1.Public().(ed25519.PublicKey)}, laptop.ID, laptop.Sign, laptop)}, account, 0, ErrBadSignature},
		{"genesis without countersignature", [][]byte{entries[0][:len(entries[0])-64]}, account, 0, ErrMissingCountersign},
		{"new recovery key not countersigned by it", with(5, forge(t, c5, &Entry{Type: TypeRotateRecovery, Recovery: rk2.Public().(ed25519.PublicKey)}, laptop.ID, laptop.Sign, recoveryDev)), account, 5, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Verify(tt.account, tt.entries)
			if tt.want == nil {
				if err != nil || c.Len() != tt.seq {
					t.Fatalf("err %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			var ee *EntryError
			if !errors.As(err, &ee) || ee.Seq != tt.seq || !strings.Contains(err.Error(), fmt.Sprintf("device chain entry %d: ", tt.seq)) {
				t.Fatalf("error %q does not name entry %d", err, tt.seq)
			}
		})
	}
}

// fork returns a chain that agrees with the standard one up to entry n-1
// and then goes its own way: its entry n rotates the key instead.
func fork(t *testing.T, states []*Chain, n int) [][]byte {
	t.Helper()
	c := states[n-1]
	laptop := dev(t, "laptop")
	b1, err := c.RotateKey(ByDevice(laptop), commit(9), at(50))
	if err != nil {
		t.Fatal(err)
	}
	c2, err := c.Extend([][]byte{b1})
	if err != nil {
		t.Fatal(err)
	}
	b2, err := c2.SetContacts(ByDevice(laptop), nil, 0, at(51))
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{b1, b2}
}

func TestExtend(t *testing.T) {
	entries, states := standardChain(t)
	c4 := states[3]
	tests := []struct {
		name    string
		entries [][]byte
		wantLen uint64
		seq     uint64
		want    error
	}{
		{"new entries", entries[4:], uint64(len(entries)), 0, nil},
		{"overlapping entries", entries[2:6], 6, 0, nil},
		{"whole chain", entries, uint64(len(entries)), 0, nil},
		{"nothing", nil, 4, 0, nil},
		{"shorter chain (rollback)", entries[:2], 4, 0, nil},
		{"fork at a held entry", append(slices.Clone(entries[:3]), fork(t, states, 3)...), 0, 3, ErrFork},
		{"fork after the head", fork(t, states, 3)[1:], 0, 4, ErrFork},
		{"fork right at the head", append(slices.Clone(entries[:4]), fork(t, states, 3)[1]), 0, 4, ErrFork},
		{"gap", entries[5:], 0, 5, ErrOutOfOrder},
		{"bad entry after good ones", [][]byte{entries[4], flip(entries[5], -1)}, 0, 5, ErrBadSignature},
		{"overlap out of order", [][]byte{entries[1], entries[3]}, 0, 3, ErrOutOfOrder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := c4.Devices()
			n, err := c4.Extend(tt.entries)
			if c4.Len() != 4 || c4.Head() != Hash(entries[3]) || !slices.EqualFunc(before, c4.Devices(), func(a, b Member) bool { return a.Public.ID == b.Public.ID }) {
				t.Fatal("Extend changed the chain it extended")
			}
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if n.Len() != tt.wantLen || n.Head() != Hash(entries[tt.wantLen-1]) {
					t.Fatalf("len %d head %x", n.Len(), n.Head())
				}
				return
			}
			var ee *EntryError
			if !errors.Is(err, tt.want) || !errors.As(err, &ee) || ee.Seq != tt.seq {
				t.Fatalf("error %v, want %v at entry %d", err, tt.want, tt.seq)
			}
		})
	}
}

// TestExtendKeepsStateIndependent checks that chains extended from one
// state share nothing that a later Extend could change.
func TestExtendKeepsStateIndependent(t *testing.T) {
	entries, states := standardChain(t)
	a, err := states[3].Extend(entries[4:5])
	if err != nil {
		t.Fatal(err)
	}
	b, err := states[3].Extend(fork(t, states, 4))
	if err != nil {
		t.Fatal(err)
	}
	if a.Head() == b.Head() || a.Epoch() != 1 || b.Epoch() != 1 || len(a.Devices()) != 2 || len(b.Devices()) != 3 {
		t.Fatalf("a: %x epoch %d, b: %x epoch %d", a.Head(), a.Epoch(), b.Head(), b.Epoch())
	}
	if got, _ := a.Commitment(1); got != commit(1) {
		t.Error("sibling Extend overwrote a commitment")
	}
}

func TestBuildersRefuse(t *testing.T) {
	_, states := standardChain(t)
	c := states[len(states)-1]
	phone, laptop, stranger := dev(t, "phone"), dev(t, "laptop"), dev(t, "stranger")
	tests := []struct {
		name  string
		build func() ([]byte, error)
		want  error
	}{
		{"removed signer", func() ([]byte, error) { return c.RotateKey(ByDevice(phone), commit(3), at(9)) }, ErrRemovedSigner},
		{"unknown signer", func() ([]byte, error) { return c.RotateKey(ByDevice(stranger), commit(3), at(9)) }, ErrUnknownSigner},
		{"no countersignature", func() ([]byte, error) { return c.AddDevice(ByDevice(laptop), stranger.Public(), nil, at(9)) }, ErrMissingCountersign},
		{"old recovery key", func() ([]byte, error) {
			return c.AddDevice(ByRecovery(recovery(t, recoveryText1)), stranger.Public(), countersigner(stranger), at(9))
		}, ErrBadSignature},
		{"too many contacts", func() ([]byte, error) {
			return c.SetContacts(ByDevice(laptop), slices.Repeat([]keys.DevicePublic{stranger.Public()}, MaxContacts+1), 1, at(9))
		}, ErrMalformed},
		{"threshold above contacts", func() ([]byte, error) {
			return c.SetContacts(ByDevice(laptop), []keys.DevicePublic{stranger.Public()}, 2, at(9))
		}, ErrMalformed},
		{"negative threshold", func() ([]byte, error) { return c.SetContacts(ByDevice(laptop), nil, -1, at(9)) }, ErrInvalid},
		{"contact twice", func() ([]byte, error) {
			return c.SetContacts(ByDevice(laptop), []keys.DevicePublic{stranger.Public(), stranger.Public()}, 1, at(9))
		}, ErrMalformed},
		{"genesis on a chain", func() ([]byte, error) { return c.seal(&Entry{Type: TypeGenesis}, ByDevice(laptop), nil, at(9)) }, ErrInvalid},
		{"bad account", func() ([]byte, error) {
			return NewGenesis("", laptop, recovery(t, recoveryText1), commit(0), at(0))
		}, ErrMalformed},
		{"time before 1970", func() ([]byte, error) { return c.RotateKey(ByDevice(laptop), commit(3), t0.AddDate(-100, 0, 0)) }, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.build(); !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestTooManyDevices(t *testing.T) {
	laptop := dev(t, "laptop")
	g, err := NewGenesis(account, laptop, recovery(t, recoveryText1), commit(0), at(0))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Verify(account, [][]byte{g})
	if err != nil {
		t.Fatal(err)
	}
	// Fake members stand in for MaxDevices-1 added devices; only the count
	// matters here.
	for i := range MaxDevices - 1 {
		c.devices[fmt.Sprint(i)] = Member{}
	}
	stranger := dev(t, "stranger")
	_, err = c.AddDevice(ByDevice(laptop), stranger.Public(), countersigner(stranger), at(1))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "64 devices") {
		t.Fatalf("error %v", err)
	}
}

// TestKeyCommitment checks KeyCommitment against HKDF-SHA-256 (RFC 5869)
// written out with HMAC: PRK = HMAC(32 zero bytes, root), then
// OKM = HMAC(PRK, info || 0x01).
func TestKeyCommitment(t *testing.T) {
	for _, b := range []byte{0, 1, 0xff} {
		root := bytes.Repeat([]byte{b}, 32)
		m := hmac.New(sha256.New, make([]byte, 32))
		m.Write(root)
		m = hmac.New(sha256.New, m.Sum(nil))
		m.Write([]byte("coffer v1 root key commitment\x01"))
		if got := commit(b); !bytes.Equal(got[:], m.Sum(nil)) {
			t.Errorf("commitment of %x...: %x, want %x", b, got, m.Sum(nil))
		}
	}
	if commit(0) == commit(1) {
		t.Fatal("commitments do not depend on the key")
	}
}

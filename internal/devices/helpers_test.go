package devices

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/keys"
)

const account = "alice@example.org"

// Fixed recovery keys: the all-zero and all-one keys of the keys package's
// vectors (docs/format.md §2.5).
const (
	recoveryText1 = "0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-CSM9"
	recoveryText2 = "ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZG-NYB4"
)

// t0 is the time of the first entry; each later entry is a minute on.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var (
	devOnce sync.Once
	devs    map[string]*keys.Device
)

// dev returns a fixed device: its Ed25519 seed is 32 bytes of seed, its
// MLKEM768-X25519 seed 32 bytes of seed+0x80, its name name.
func dev(t testing.TB, name string) *keys.Device {
	t.Helper()
	devOnce.Do(func() {
		devs = map[string]*keys.Device{}
		for i, n := range []string{"laptop", "phone", "desktop", "friend", "sister", "stranger", "browser"} {
			seed := byte(i + 1)
			sign := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
			k, err := hpke.MLKEM768X25519().NewPrivateKey(bytes.Repeat([]byte{seed + 0x80}, 32))
			if err != nil {
				panic(err)
			}
			devs[n] = &keys.Device{ID: keys.DeviceID(sign.Public().(ed25519.PublicKey)), Sign: sign, KEM: k, Name: n}
		}
	})
	d, ok := devs[name]
	if !ok {
		t.Fatalf("no test device %q", name)
	}
	return d
}

func recovery(t testing.TB, text string) *keys.RecoveryKey {
	t.Helper()
	rk, err := keys.ParseRecoveryKey(text)
	if err != nil {
		t.Fatal(err)
	}
	return rk
}

func recoveryPub(t testing.TB, text string) ed25519.PublicKey {
	return recovery(t, text).SigningKey().Public().(ed25519.PublicKey)
}

// commit returns the commitment of the root key of 32 bytes of b.
func commit(b byte) [sha256.Size]byte {
	var k crypt.Key
	for i := range k {
		k[i] = b
	}
	return KeyCommitment(&k)
}

func countersigner(d *keys.Device) func([]byte) []byte {
	return func(m []byte) []byte { return ed25519.Sign(d.Sign, m) }
}

// browserSession is the session of the "browser" test keys, an hour from now.
func browserSession(t testing.TB, now time.Time) WebSession {
	b := dev(t, "browser").Public()
	return WebSession{ID: b.ID, Sign: b.Sign, KEM: b.KEM, NotBefore: now, NotAfter: now.Add(time.Hour), Scope: ScopeRead}
}

func at(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

// standardChain builds the chain the tests and the vectors share:
//
//	0 genesis: laptop, recovery key 1, epoch 0
//	1 laptop adds phone
//	2 recovery key 1 adds desktop
//	3 phone sets contacts friend and sister, 2 of 2
//	4 desktop removes phone, epoch 1
//	5 laptop rotates the recovery key to recovery key 2
//	6 laptop rotates the root key, epoch 2
//	7 recovery key 2 adds friend
//	8 laptop adds sister as an append-only device
//	9 sister records snapshot 32×0x51
//	10 laptop records snapshot 32×0x52
//	11 desktop forgets snapshot 32×0x51
//	12 laptop records prune plan 32×0x53
//	13 laptop turns web access on
//	14 laptop approves the browser session of the "browser" keys, for an hour
//	15 laptop revokes that session
//	16 laptop turns web access off
//
// It returns the entries and the verified chain after each of them.
func standardChain(t testing.TB) ([][]byte, []*Chain) {
	t.Helper()
	laptop, phone, desktop := dev(t, "laptop"), dev(t, "phone"), dev(t, "desktop")
	friend, sister := dev(t, "friend"), dev(t, "sister")
	g, err := NewGenesis(account, laptop, recovery(t, recoveryText1), commit(0), at(0))
	if err != nil {
		t.Fatal(err)
	}
	entries := [][]byte{g}
	c, err := Verify(account, entries)
	if err != nil {
		t.Fatal(err)
	}
	states := []*Chain{c}
	steps := []func(c *Chain, now time.Time) ([]byte, error){
		func(c *Chain, now time.Time) ([]byte, error) {
			return c.AddDevice(ByDevice(laptop), phone.Public(), countersigner(phone), now)
		},
		func(c *Chain, now time.Time) ([]byte, error) {
			return c.AddDevice(ByRecovery(recovery(t, recoveryText1)), desktop.Public(), countersigner(desktop), now)
		},
		func(c *Chain, now time.Time) ([]byte, error) {
			return c.SetContacts(ByDevice(phone), []keys.DevicePublic{friend.Public(), sister.Public()}, 2, now)
		},
		func(c *Chain, now time.Time) ([]byte, error) {
			return c.RemoveDevice(ByDevice(desktop), phone.ID, commit(1), now)
		},
		func(c *Chain, now time.Time) ([]byte, error) {
			return c.RotateRecovery(ByDevice(laptop), recovery(t, recoveryText2), now)
		},
		func(c *Chain, now time.Time) ([]byte, error) { return c.RotateKey(ByDevice(laptop), commit(2), now) },
		func(c *Chain, now time.Time) ([]byte, error) {
			return c.AddDevice(ByRecovery(recovery(t, recoveryText2)), friend.Public(), countersigner(friend), now)
		},
		func(c *Chain, now time.Time) ([]byte, error) {
			return c.AddDeviceWith(ByDevice(laptop), sister.Public(), AppendOnly, countersigner(sister), now)
		},
		func(c *Chain, now time.Time) ([]byte, error) {
			return c.RecordSnapshot(ByDevice(sister), object(0x51), now)
		},
		func(c *Chain, now time.Time) ([]byte, error) {
			return c.RecordSnapshot(ByDevice(laptop), object(0x52), now)
		},
		func(c *Chain, now time.Time) ([]byte, error) {
			return c.ForgetSnapshots(ByDevice(desktop), []ObjectID{object(0x51)}, now)
		},
		func(c *Chain, now time.Time) ([]byte, error) {
			return c.RecordPlan(ByDevice(laptop), object(0x53), now)
		},
		func(c *Chain, now time.Time) ([]byte, error) { return c.SetWebAccess(ByDevice(laptop), true, now) },
		func(c *Chain, now time.Time) ([]byte, error) {
			p, err := c.PrepareSession(ByDevice(laptop), browserSession(t, now), now)
			if err != nil {
				return nil, err
			}
			return p.Finish(ed25519.Sign(dev(t, "browser").Sign, CountersignMessage(p.SignedPart())))
		},
		func(c *Chain, now time.Time) ([]byte, error) {
			return c.RevokeSession(ByDevice(laptop), dev(t, "browser").ID, now)
		},
		func(c *Chain, now time.Time) ([]byte, error) { return c.SetWebAccess(ByDevice(laptop), false, now) },
	}
	for i, step := range steps {
		b, err := step(c, at(i+1))
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		if c, err = c.Extend([][]byte{b}); err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		entries = append(entries, b)
		states = append(states, c)
	}
	return entries, states
}

// object returns the object ID made of 32 bytes b.
func object(b byte) ObjectID {
	var id ObjectID
	for i := range id {
		id[i] = b
	}
	return id
}

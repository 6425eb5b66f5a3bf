package account_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/pairing"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
)

// memRelay is a pairing mailbox in memory, with the server's rules (each
// slot written once, unknown pairings not found). It is the one stand-in
// of these tests: the real mailbox is tested in internal/server and end to
// end. tamper names a slot whose body it alters on the way, as a hostile
// server could.
type memRelay struct {
	mu     sync.Mutex
	cond   *sync.Cond
	boxes  map[string]map[int][]byte
	tamper int
}

func newRelay(tamper int) *memRelay {
	m := &memRelay{boxes: map[string]map[int][]byte{}, tamper: tamper}
	m.cond = sync.NewCond(&m.mu)
	return m
}

func (m *memRelay) CreatePairing(_ context.Context, id string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.boxes[id]; ok || ttl <= 0 {
		return fmt.Errorf("pairing %s (ttl %v): %w", id, ttl, store.ErrExists)
	}
	m.boxes[id] = map[int][]byte{}
	return nil
}

func (m *memRelay) PutPairing(_ context.Context, id string, slot int, body []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	box, ok := m.boxes[id]
	if !ok {
		return fmt.Errorf("pairing %s: %w", id, store.ErrNotFound)
	}
	if _, ok := box[slot]; ok {
		return fmt.Errorf("pairing %s slot %d: %w", id, slot, store.ErrExists)
	}
	body = bytes.Clone(body)
	if slot == m.tamper {
		body[len(body)/2] ^= 1
	}
	box[slot] = body
	m.cond.Broadcast()
	return nil
}

func (m *memRelay) GetPairing(ctx context.Context, id string, slot int, wait time.Duration) ([]byte, bool, error) {
	deadline := time.Now().Add(wait)
	wake := func() {
		m.mu.Lock()
		m.cond.Broadcast()
		m.mu.Unlock()
	}
	timer := time.AfterFunc(wait, wake)
	defer timer.Stop()
	defer context.AfterFunc(ctx, wake)()
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		box, ok := m.boxes[id]
		if !ok {
			return nil, false, fmt.Errorf("pairing %s: %w", id, store.ErrNotFound)
		}
		if b, ok := box[slot]; ok {
			return bytes.Clone(b), true, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		if !time.Now().Before(deadline) {
			return nil, false, nil
		}
		m.cond.Wait()
	}
}

// pairingRun is the outcome of one run of the protocol.
type pairingRun struct {
	dev      *keys.Device
	pub      keys.DevicePublic // the device the adder received
	chain    *account.Chain    // the adder's chain after appending
	addErr   error
	joined   *account.Joined
	joinErr  error
	appended bool
}

// runPairing adds a new device to f's account through relay as the CLI
// does; the joiner uses the adder's code, or with wrongCode another one.
// Each side waits at most wait.
func runPairing(t *testing.T, f *fixture, relay account.Relay, wrongCode bool, wait time.Duration) *pairingRun {
	t.Helper()
	a := &account.Adder{Relay: relay, Chain: f.c, Me: f.dev, Deadline: time.Now().Add(wait)}
	text, err := a.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	code, err := pairing.ParseCode(text)
	if wrongCode {
		code, err = pairing.NewCode(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	run := &pairingRun{dev: newDevice(t, "phone")}
	done := make(chan struct{})
	go func() {
		defer close(done)
		run.joined, run.joinErr = account.Join(ctx, relay, code, run.dev, time.Now().Add(wait))
	}()
	var entry []byte
	run.pub, entry, run.addErr = a.Wait(ctx)
	if run.addErr == nil {
		run.addErr = f.r.WrapTo(ctx, run.pub)
	}
	if run.addErr == nil {
		run.chain, run.addErr = f.c.Append(ctx, store.ChainOf(f.st), entry)
		run.appended = run.addErr == nil
	}
	if run.addErr == nil {
		run.addErr = a.Done(ctx, entry)
	}
	<-done
	return run
}

// TestPairing runs the protocol between an adder and a joiner: with the
// same code the new device is added and checks the chain it then reads;
// with another code the joiner finds no pairing and the adder times out;
// a message altered by the relay does not open, and the other side times
// out.
func TestPairing(t *testing.T) {
	const short = 300 * time.Millisecond
	opens := func(slot int) string { return fmt.Sprintf("pairing message %d does not open under the code", slot) }
	for _, tc := range []struct {
		name      string
		tamper    int
		wrongCode bool
		wait      time.Duration
		addErr    string // substring of the adder's error, "" for none
		joinErr   string // the joiner's
		appended  bool
	}{
		{name: "happy path", wait: 10 * time.Second, appended: true},
		{name: "wrong code", wrongCode: true, wait: short, addErr: account.ErrPairingTimeout.Error(), joinErr: store.ErrNotFound.Error()},
		{name: "join altered", tamper: 1, wait: short, addErr: opens(1), joinErr: account.ErrPairingTimeout.Error()},
		{name: "offer altered", tamper: 2, wait: short, addErr: account.ErrPairingTimeout.Error(), joinErr: opens(2)},
		{name: "countersignature altered", tamper: 3, wait: short, addErr: opens(3), joinErr: account.ErrPairingTimeout.Error()},
		{name: "done altered", tamper: 4, wait: short, joinErr: opens(4), appended: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			run := runPairing(t, f, newRelay(tc.tamper), tc.wrongCode, tc.wait)
			checkErr(t, "adder", run.addErr, tc.addErr)
			checkErr(t, "joiner", run.joinErr, tc.joinErr)
			stored := mustFirstUse(t, f)
			if _, ok := stored.Device(run.dev.ID); ok != tc.appended || run.appended != tc.appended {
				t.Fatalf("the device is in the chain: %v, want %v", ok, tc.appended)
			}
			if tc.joinErr != "" {
				return
			}
			if run.pub.ID != run.dev.ID || run.joined.Account != f.acct {
				t.Fatalf("the adder added %s, the joiner is %s, of account %s", run.pub.ID, run.dev.ID, run.joined.Account)
			}
			if err := run.joined.Check(stored); err != nil {
				t.Fatal(err)
			}
			if err := stored.Member(run.dev); err != nil {
				t.Fatal(err)
			}
			r, err := repo.OpenChain(ctx, f.st, run.dev, stored.Chain)
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
		})
	}
}

func checkErr(t *testing.T, who string, err error, want string) {
	t.Helper()
	if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
		t.Errorf("%s: %v, want %q", who, err, want)
	}
}

// TestJoinedCheck: a joined device accepts only a chain with the adder's
// genesis that holds the entry it countersigned.
func TestJoinedCheck(t *testing.T) {
	f := newFixture(t)
	before := f.c
	run := runPairing(t, f, newRelay(0), false, 10*time.Second)
	if run.addErr != nil || run.joinErr != nil {
		t.Fatalf("pairing: %v; %v", run.addErr, run.joinErr)
	}
	f.c = run.chain
	substitute := f.addEntry(t, before, newDevice(t, "phone"))
	forged, err := before.Extend([][]byte{before.Entries[0], substitute})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		chain func() *account.Chain
		want  string // substring of the refusal, "" to accept
	}{
		{"the chain it was added to", func() *account.Chain { return run.chain }, ""},
		{"that chain extended", func() *account.Chain { f.addDevice(t, "desktop"); return f.c }, ""},
		{"the chain before the addition", func() *account.Chain { return before }, "lacks the entry that added this device (entry 1)"},
		{"another entry in its place", func() *account.Chain {
			return &account.Chain{Chain: forged, Entries: [][]byte{before.Entries[0], substitute}}
		}, "lacks the entry"},
		{"another account's chain", func() *account.Chain { return newFixture(t).c }, "another genesis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run.joined.Check(tc.chain())
			checkErr(t, "Check", err, tc.want)
			if tc.want != "" && !errors.Is(err, devices.ErrFork) {
				t.Errorf("Check: %v does not wrap ErrFork", err)
			}
		})
	}
}

package devices

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/keys"
)

// sessionEntry signs, on top of c, a browser-session entry ws by s,
// countersigned by the "browser" keys unless cs says otherwise, bypassing
// the builders' checks.
func sessionEntry(c *Chain, s Signer, ws WebSession, now time.Time, cs func([]byte) []byte) []byte {
	e := &Entry{Type: TypeWebSession, Session: ws}
	return c.sign(e, s, cs, now)
}

// TestWebRefuses lists web entries a chain refuses, built on the standard
// chain with web access on (after entry 13).
func TestWebRefuses(t *testing.T) {
	_, states := standardChain(t)
	on, off := states[13], states[12]
	laptop, sister, browser := dev(t, "laptop"), dev(t, "sister"), dev(t, "browser")
	now := at(20)
	good := browserSession(t, now)
	good.Epoch = on.Epoch()
	bcs := countersigner(browser)
	rk := ByRecovery(recovery(t, recoveryText2))
	withSession := extend(t, on, sessionEntry(on, ByDevice(laptop), good, now, bcs))
	long := good
	long.NotAfter = good.NotBefore.Add(MaxSessionLength + time.Second)
	backwards := good
	backwards.NotAfter = good.NotBefore
	oldEpoch := good
	oldEpoch.Epoch = 1
	writer := good
	writer.Scope = 2
	notDerived := good
	notDerived.ID = laptop.ID
	devKey := good
	devKey.ID, devKey.Sign, devKey.KEM = sister.ID, sister.Public().Sign, sister.Public().KEM
	tests := []struct {
		name  string
		chain *Chain
		entry []byte
		want  error
	}{
		{"session while web is off", off, sessionEntry(off, ByDevice(laptop), good, now, bcs), ErrInvalid},
		{"session by an append-only device", on, sessionEntry(on, ByDevice(sister), good, now, bcs), ErrNoRight},
		{"session by the recovery key", on, sessionEntry(on, rk, good, now, bcs), ErrNoRight},
		{"session countersigned by another key", on, sessionEntry(on, ByDevice(laptop), good, now, countersigner(laptop)), ErrBadSignature},
		{"session without countersignature", on, sessionEntry(on, ByDevice(laptop), good, now, nil), ErrMissingCountersign},
		{"session longer than 24 h", on, sessionEntry(on, ByDevice(laptop), long, now, bcs), ErrMalformed},
		{"session ending as it starts", on, sessionEntry(on, ByDevice(laptop), backwards, now, bcs), ErrMalformed},
		{"session of a past epoch", on, sessionEntry(on, ByDevice(laptop), oldEpoch, now, bcs), ErrInvalid},
		{"session that may write", on, sessionEntry(on, ByDevice(laptop), writer, now, bcs), ErrMalformed},
		{"session ID not of its key", on, sessionEntry(on, ByDevice(laptop), notDerived, now, bcs), ErrMalformed},
		{"session with a device's key", on, sessionEntry(on, ByDevice(laptop), devKey, now, countersigner(sister)), ErrDuplicateDevice},
		{"session approved twice", withSession, sessionEntry(withSession, ByDevice(laptop), good, now, bcs), ErrInvalid},
		{"web access by an append-only device", off, must(off.sealUnchecked(&Entry{Type: TypeWebAccess, Web: true}, ByDevice(sister), now)), ErrNoRight},
		{"web access by the recovery key", off, must(off.sealUnchecked(&Entry{Type: TypeWebAccess, Web: true}, rk, now)), ErrNoRight},
		{"web access on twice", on, must(on.sealUnchecked(&Entry{Type: TypeWebAccess, Web: true}, ByDevice(laptop), now)), ErrInvalid},
		{"revoking an unknown session", on, must(on.sealUnchecked(&Entry{Type: TypeRevokeSession, Session: WebSession{ID: browser.ID}}, ByDevice(laptop), now)), ErrInvalid},
		{"revoking by an append-only device", withSession, must(withSession.sealUnchecked(&Entry{Type: TypeRevokeSession, Session: WebSession{ID: browser.ID}}, ByDevice(sister), now)), ErrNoRight},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.chain.Extend([][]byte{tt.entry})
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// sealUnchecked signs e on top of c without the builders' checks.
func (c *Chain) sealUnchecked(e *Entry, s Signer, now time.Time) ([]byte, error) {
	return c.sign(e, s, nil, now), nil
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func extend(t *testing.T, c *Chain, e []byte) *Chain {
	t.Helper()
	n, err := c.Extend([][]byte{e})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSessionLife follows a session through the chain: active in its
// window only, ended by revoke, by web access turned off, and by the
// removal of the device that approved it, but not by another's removal.
func TestSessionLife(t *testing.T) {
	_, states := standardChain(t)
	on := states[13]
	laptop, desktop, browser := dev(t, "laptop"), dev(t, "desktop"), dev(t, "browser")
	now := at(20)
	approve := func(by *keys.Device) *Chain {
		p, err := on.PrepareSession(ByDevice(by), browserSession(t, now), now)
		if err != nil {
			t.Fatal(err)
		}
		e, err := p.Finish(ed25519.Sign(browser.Sign, CountersignMessage(p.SignedPart())))
		if err != nil {
			t.Fatal(err)
		}
		return extend(t, on, e)
	}
	c := approve(laptop)
	s, ok := c.Session(browser.ID)
	if !ok || s.Approver != laptop.ID || s.Epoch != 2 || len(c.Sessions()) != 1 {
		t.Fatalf("session %+v %v", s, ok)
	}
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{{now.Add(-time.Second), false}, {now, true}, {now.Add(time.Hour - time.Second), true}, {now.Add(time.Hour), false}} {
		if s.Active(tc.at) != tc.want {
			t.Errorf("active at %v: %v", tc.at, !tc.want)
		}
	}
	ended := func(name string, c *Chain, want bool) {
		t.Helper()
		s, _ := c.Session(browser.ID)
		if (s.Revoked != 0) != want || s.Active(now) == want {
			t.Errorf("%s: revoked at %d", name, s.Revoked)
		}
	}
	ended("revoke", extend(t, c, must(c.RevokeSession(ByDevice(laptop), browser.ID, now))), true)
	ended("web off", extend(t, c, must(c.SetWebAccess(ByDevice(desktop), false, now))), true)
	ended("approver removed", extend(t, c, must(c.RemoveDevice(ByDevice(desktop), laptop.ID, commit(3), now))), true)
	c2 := approve(desktop)
	ended("another device removed", extend(t, c2, must(c2.RemoveDevice(ByDevice(desktop), laptop.ID, commit(3), now))), false)
}

// TestParseSessionRequest: what a browser checks before countersigning.
func TestParseSessionRequest(t *testing.T) {
	_, states := standardChain(t)
	on := states[13]
	laptop, desktop := dev(t, "laptop"), dev(t, "desktop")
	p, err := on.PrepareSession(ByDevice(laptop), browserSession(t, at(20)), at(20))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSessionRequest(p.SignedPart(), laptop.Public().Sign, p.Sig()); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSessionRequest(p.SignedPart(), desktop.Public().Sign, p.Sig()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("another approver key: %v", err)
	}
	bySigner := ed25519.Sign(desktop.Sign, crypt.AD(labelSign, p.SignedPart()))
	if _, err := ParseSessionRequest(p.SignedPart(), desktop.Public().Sign, bySigner); !errors.Is(err, ErrUnknownSigner) {
		t.Errorf("signed by a key the entry does not name as signer: %v", err)
	}
	bad := p.Sig()
	bad[0] ^= 1
	if _, err := ParseSessionRequest(p.SignedPart(), laptop.Public().Sign, bad); !errors.Is(err, ErrBadSignature) {
		t.Errorf("bad signature: %v", err)
	}
	add, err := on.PrepareAdd(ByDevice(laptop), dev(t, "stranger").Public(), Full, at(20))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSessionRequest(add.SignedPart(), laptop.Public().Sign, p.Sig()); !errors.Is(err, ErrInvalid) {
		t.Errorf("an add-device entry: %v", err)
	}
}

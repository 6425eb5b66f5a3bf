package websession_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/pairing"
	"github.com/coffer-backup/coffer/internal/typable"
	"github.com/coffer-backup/coffer/internal/websession"
)

const account = "0123456789abcdef0123456789abcdef"

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// world is an account with one full device and web access on.
type world struct {
	dev   *keys.Device
	chain *devices.Chain
}

func newWorld(t testing.TB) *world {
	t.Helper()
	dev, err := keys.NewDevice("laptop")
	if err != nil {
		t.Fatal(err)
	}
	rk, err := keys.NewRecoveryKey()
	if err != nil {
		t.Fatal(err)
	}
	g, err := devices.NewGenesis(account, dev, rk, [32]byte{1}, t0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := devices.Verify(account, [][]byte{g})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{dev: dev, chain: c}
	w.append(t, func(c *devices.Chain) ([]byte, error) { return c.SetWebAccess(devices.ByDevice(dev), true, t0) })
	return w
}

func (w *world) append(t testing.TB, build func(*devices.Chain) ([]byte, error)) []byte {
	t.Helper()
	e, err := build(w.chain)
	if err != nil {
		t.Fatal(err)
	}
	if w.chain, err = w.chain.Extend([][]byte{e}); err != nil {
		t.Fatal(err)
	}
	return e
}

// approval is the device side of one exchange, up to the request.
type approval struct {
	code    *websession.Code
	offer   websession.Offer
	rawOff  []byte
	pending *devices.PendingSession
	request []byte // sealed slot 2
}

func (w *world) approve(t testing.TB, codeText string, sealedOffer []byte) *approval {
	t.Helper()
	code, err := websession.ParseCode(codeText)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := code.Open(websession.SlotOffer, sealedOffer)
	if err != nil {
		t.Fatal(err)
	}
	offer, err := websession.ParseOffer(raw)
	if err != nil {
		t.Fatal(err)
	}
	ws := devices.WebSession{ID: offer.SessionID(), Sign: offer.Sign, KEM: offer.KEM, Scope: devices.ScopeRead,
		NotBefore: t0, NotAfter: t0.Add(devices.DefaultSessionLength)}
	p, err := w.chain.PrepareSession(devices.ByDevice(w.dev), ws, t0)
	if err != nil {
		t.Fatal(err)
	}
	req, err := websession.SealRequest(code, p, w.dev.Public().Sign)
	if err != nil {
		t.Fatal(err)
	}
	return &approval{code: code, offer: offer, rawOff: raw, pending: p, request: req}
}

// finish completes the entry with the sealed countersignature, appends
// it, and returns the grant of every epoch's keys, sealed.
func (w *world) finish(t *testing.T, a *approval, sealedCS []byte, g *websession.Grant) []byte {
	t.Helper()
	raw, err := a.code.Open(websession.SlotCountersign, sealedCS)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := websession.ParseCountersign(raw)
	if err != nil {
		t.Fatal(err)
	}
	entry := w.append(t, func(*devices.Chain) ([]byte, error) { return a.pending.Finish(cs) })
	if g == nil {
		g = grantFor(a.offer, entry, w.chain.Epoch())
	}
	sealed, err := websession.SealGrant(a.code, g, w.dev.Sign, a.offer)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

func grantFor(offer websession.Offer, entry []byte, epoch uint64) *websession.Grant {
	g := &websession.Grant{Account: account, SessionID: offer.SessionID(), Entry: devices.Hash(entry),
		NotBefore: t0, NotAfter: t0.Add(devices.DefaultSessionLength), IDKey: crypt.Key{7}, ConfKey: crypt.Key{8}}
	for e := range epoch + 1 {
		g.DataKeys = append(g.DataKeys, crypt.Key{byte(e + 1), 0xd})
	}
	return g
}

func newBrowser(t *testing.T) *websession.Browser {
	t.Helper()
	b, err := websession.NewBrowser(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// TestExchange runs the whole exchange and checks what each side ends with.
func TestExchange(t *testing.T) {
	w := newWorld(t)
	b := newBrowser(t)
	a := w.approve(t, b.Code(), must[[]byte](t)(b.Offer()))
	if a.code.ID() != b.MailboxID() || a.offer.SessionID() != b.SessionID() {
		t.Fatal("the device derived another mailbox or session")
	}
	acc := must[*websession.Accepted](t)(b.Accept(a.request))
	if want := websession.CompareCode(a.code, a.rawOff, a.pending.SignedPart()); acc.Compare != want {
		t.Fatalf("browser shows %s, device %s", acc.Compare, want)
	}
	if len(acc.Compare) != 11 || acc.Account != account || acc.Approver != w.dev.ID || !acc.NotAfter.Equal(t0.Add(time.Hour)) {
		t.Fatalf("accepted %+v", acc)
	}
	g := must[*websession.Grant](t)(b.OpenGrant(w.finish(t, a, must[[]byte](t)(b.Countersign()), nil)))
	s, ok := w.chain.Session(b.SessionID())
	if !ok || !s.Active(t0) || s.Active(t0.Add(time.Hour)) || s.Seq != acc.Seq {
		t.Fatalf("chain's session %+v, %v", s, ok)
	}
	if g.IDKey != (crypt.Key{7}) || g.ConfKey != (crypt.Key{8}) || len(g.DataKeys) != 1 || g.DataKeys[0] != (crypt.Key{1, 0xd}) || g.Approver != w.dev.ID {
		t.Fatalf("grant %+v", g)
	}
	if g.Entry != devices.Hash(b.Entry()) {
		t.Fatal("grant names another entry")
	}
	msg := []byte("challenge")
	if !ed25519.Verify(s.Sign, msg, b.Sign(msg)) {
		t.Fatal("Sign does not verify under the session's recorded key")
	}
}

// TestRace: a party that saw the code posts its own offer first. The
// device then builds an entry for the party's keys, which the browser
// refuses; and an entry the party forges for the browser's keys, signed
// by a device of its own, yields another comparison code than the
// device's.
func TestRace(t *testing.T) {
	w := newWorld(t)
	b := newBrowser(t)
	code := must[*websession.Code](t)(websession.ParseCode(b.Code()))
	evil := newBrowser(t)
	evilOffer := must[[]byte](t)(code.Seal(websession.SlotOffer, offerOf(t, evil)))
	real := w.approve(t, b.Code(), evilOffer)
	if _, err := b.Accept(real.request); !errors.Is(err, websession.ErrRefused) {
		t.Fatalf("browser accepted an entry for another's keys: %v", err)
	}
	// The attacker's own account and device, an entry naming b's keys.
	w2 := newWorld(t)
	forged := w2.approve(t, b.Code(), must[[]byte](t)(b.Offer()))
	acc := must[*websession.Accepted](t)(b.Accept(forged.request))
	if device := websession.CompareCode(code, real.rawOff, real.pending.SignedPart()); acc.Compare == device {
		t.Fatalf("comparison codes match (%s) across a raced approval", device)
	}
}

// offerOf opens b's own sealed offer: what a party with the code reads.
func offerOf(t *testing.T, b *websession.Browser) []byte {
	code := must[*websession.Code](t)(websession.ParseCode(b.Code()))
	return must[[]byte](t)(code.Open(websession.SlotOffer, must[[]byte](t)(b.Offer())))
}

// TestAcceptRefuses lists slot-2 messages a browser must not countersign.
func TestAcceptRefuses(t *testing.T) {
	w := newWorld(t)
	b := newBrowser(t)
	a := w.approve(t, b.Code(), must[[]byte](t)(b.Offer()))
	reqOf := func(sealed []byte) websession.Request {
		return must[websession.Request](t)(websession.ParseRequest(must[[]byte](t)(a.code.Open(websession.SlotRequest, sealed))))
	}
	seal := func(r websession.Request) []byte {
		return must[[]byte](t)(a.code.Seal(websession.SlotRequest, r.Marshal()))
	}
	other, _ := keys.NewDevice("other")
	good := reqOf(a.request)
	badSig := good
	badSig.Sig = bytes.Clone(good.Sig)
	badSig.Sig[3] ^= 1
	otherKey := good
	otherKey.Approver = other.Public().Sign
	otherKey.Sig = ed25519.Sign(other.Sign, crypt.AD("coffer v1 device chain", good.SignedPart))
	// An add-device entry, properly signed: never a session.
	addP := must[*devices.PendingAdd](t)(w.chain.PrepareAdd(devices.ByDevice(w.dev), other.Public(), devices.Full, t0))
	add := websession.Request{SignedPart: addP.SignedPart(), Approver: w.dev.Public().Sign}
	for _, tc := range []struct {
		name   string
		sealed []byte
		want   error
	}{
		{"altered", flip(a.request, 40), websession.ErrOpen},
		{"another slot", must[[]byte](t)(a.code.Seal(websession.SlotGrant, good.Marshal())), websession.ErrOpen},
		{"bad signature", seal(badSig), devices.ErrBadSignature},
		{"signed by another key", seal(otherKey), devices.ErrUnknownSigner},
		{"add-device entry", seal(add), devices.ErrInvalid},
		{"truncated", must[[]byte](t)(a.code.Seal(websession.SlotRequest, good.Marshal()[:97])), websession.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := b.Accept(tc.sealed); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if _, err := b.Countersign(); !errors.Is(err, websession.ErrState) {
				t.Fatalf("countersigned after a refusal: %v", err)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x20
	return c
}

// TestGrantRefuses lists grants the browser must not use.
func TestGrantRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(g *websession.Grant, entry []byte)
		signer *keys.Device
	}{
		{"another entry", func(g *websession.Grant, _ []byte) { g.Entry[0] ^= 1 }, nil},
		{"longer validity", func(g *websession.Grant, _ []byte) { g.NotAfter = g.NotAfter.Add(time.Hour) }, nil},
		{"another epoch count", func(g *websession.Grant, _ []byte) { g.DataKeys = append(g.DataKeys, crypt.Key{}) }, nil},
		{"another signer", func(*websession.Grant, []byte) {}, mustDev(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			b := newBrowser(t)
			a := w.approve(t, b.Code(), must[[]byte](t)(b.Offer()))
			must[*websession.Accepted](t)(b.Accept(a.request))
			cs := must[[]byte](t)(b.Countersign())
			g := grantFor(a.offer, b.Entry(), 0)
			tc.change(g, b.Entry())
			if tc.signer != nil {
				w.dev = tc.signer // signs the grant only: the entry is built already
			}
			sealed := w.finish(t, a, cs, g)
			if _, err := b.OpenGrant(sealed); !errors.Is(err, websession.ErrRefused) {
				t.Fatalf("got %v, want ErrRefused", err)
			}
		})
	}
}

func mustDev(t *testing.T) *keys.Device {
	d, err := keys.NewDevice("intruder")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestGrantSealedToAnother: a grant sealed to another browser's key does
// not open.
func TestGrantSealedToAnother(t *testing.T) {
	w := newWorld(t)
	b := newBrowser(t)
	a := w.approve(t, b.Code(), must[[]byte](t)(b.Offer()))
	must[*websession.Accepted](t)(b.Accept(a.request))
	cs := must[[]byte](t)(b.Countersign())
	a.offer.KEM = must[websession.Offer](t)(websession.ParseOffer(offerOf(t, newBrowser(t)))).KEM
	if _, err := b.OpenGrant(w.finish(t, a, cs, grantFor(a.offer, b.Entry(), 0))); !errors.Is(err, websession.ErrRefused) {
		t.Fatalf("got %v, want ErrRefused", err)
	}
}

// TestCode: the code's typable form catches typos and is never a pairing
// code, and no other code opens its messages.
func TestCode(t *testing.T) {
	b := newBrowser(t)
	s := b.Code()
	if len(strings.ReplaceAll(s, "-", "")) != 29 {
		t.Fatalf("code %q", s)
	}
	typo := []byte(s)
	typo[3] = map[bool]byte{true: '1', false: '0'}[typo[3] == '0']
	if _, err := websession.ParseCode(string(typo)); !errors.Is(err, typable.ErrChecksum) {
		t.Fatalf("a typo: %v", err)
	}
	pc, _ := pairing.NewCode(rand.Reader)
	if _, err := websession.ParseCode(pc.String()); err == nil {
		t.Fatal("a pairing code parsed as a web session code")
	}
	other, _ := websession.NewCode(rand.Reader)
	if _, err := other.Open(websession.SlotOffer, must[[]byte](t)(b.Offer())); !errors.Is(err, websession.ErrOpen) {
		t.Fatalf("another code: %v", err)
	}
	if _, err := other.Seal(5, nil); !errors.Is(err, websession.ErrSlot) {
		t.Fatalf("slot 5: %v", err)
	}
}

// TestParseBounds: the parsers refuse every size but the right one.
func TestParseBounds(t *testing.T) {
	off := offerOf(t, newBrowser(t))
	for _, n := range []int{0, 1, len(off) - 1, len(off) + 1} {
		if _, err := websession.ParseOffer(append(bytes.Clone(off), 0)[:n]); !errors.Is(err, websession.ErrMalformed) {
			t.Errorf("offer of %d bytes: %v", n, err)
		}
	}
	if _, err := websession.ParseOffer(flip(off, 0)); !errors.Is(err, websession.ErrMalformed) {
		t.Errorf("offer version 0x21: %v", err)
	}
	for _, n := range []int{0, 97, 98 + devices.MaxEntrySize} {
		if _, err := websession.ParseRequest(make([]byte, n)); !errors.Is(err, websession.ErrMalformed) {
			t.Errorf("request of %d bytes: %v", n, err)
		}
	}
	for _, n := range []int{0, 63, 65} {
		if _, err := websession.ParseCountersign(make([]byte, n)); !errors.Is(err, websession.ErrMalformed) {
			t.Errorf("countersignature of %d bytes: %v", n, err)
		}
	}
}

// TestOutOfOrder: a grant before countersigning is refused.
func TestOutOfOrder(t *testing.T) {
	b := newBrowser(t)
	if _, err := b.OpenGrant([]byte("x")); !errors.Is(err, websession.ErrState) {
		t.Fatal(err)
	}
}

// TestSealGrantOtherSession: a device never seals a grant for one session
// to another session's key.
func TestSealGrantOtherSession(t *testing.T) {
	b := newBrowser(t)
	offer := must[websession.Offer](t)(websession.ParseOffer(offerOf(t, b)))
	g := grantFor(offer, []byte("entry"), 0)
	g.SessionID = strings.Repeat("ab", 16)
	code, _ := websession.NewCode(rand.Reader)
	dev := mustDev(t)
	if _, err := websession.SealGrant(code, g, dev.Sign, offer); !errors.Is(err, websession.ErrRefused) {
		t.Fatalf("got %v", err)
	}
}

// BenchmarkExchange measures one whole exchange, both sides, in memory:
// what the browser's WebAssembly and the device spend besides the network.
func BenchmarkExchange(b *testing.B) {
	w := newWorld(b)
	for b.Loop() {
		br, err := websession.NewBrowser(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		off, _ := br.Offer()
		a := w.approve(b, br.Code(), off)
		if _, err := br.Accept(a.request); err != nil {
			b.Fatal(err)
		}
		cs, _ := br.Countersign()
		raw, _ := a.code.Open(websession.SlotCountersign, cs)
		entry, err := a.pending.Finish(raw)
		if err != nil {
			b.Fatal(err)
		}
		sealed, err := websession.SealGrant(a.code, grantFor(a.offer, entry, 0), w.dev.Sign, a.offer)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := br.OpenGrant(sealed); err != nil {
			b.Fatal(err)
		}
	}
}

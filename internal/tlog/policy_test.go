package tlog

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

func TestPolicyVerify(t *testing.T) {
	k := newTestKeys(t, 3)
	m := newMemLog(t, 5)
	c := m.checkpoint(t, 5)
	other, err := NewLogSigner(logSkey("other.example/log", seed("other")))
	if err != nil {
		t.Fatal(err)
	}
	logOnly := k.sign(t, c)
	two := k.sign(t, c, k.witnesses[0], k.witnesses[1])
	// A cosignature line by witness 3's key over another checkpoint.
	stale := k.sign(t, m.checkpoint(t, 4), k.witnesses[2])
	badLine := stale[bytes.LastIndex(stale, []byte("— witness.example/w3")):]
	unknown := cosign(t, two, other)
	tamperedLog := bytes.Replace(logOnly, []byte("— "+testOrigin+" "), []byte("— "+testOrigin+" AAAA"), 1)
	foreign, err := Sign(Checkpoint{Origin: "other.example/log", Size: 5, Root: c.Root}.Body(), other)
	if err != nil {
		t.Fatal(err)
	}
	foreign = cosign(t, foreign, k.log)
	tests := []struct {
		name      string
		signed    []byte
		threshold int
		witnesses []note.Verifier
		want      error
		names     []string
	}{
		{"log only, no witnesses needed", logOnly, 0, nil, nil, nil},
		{"two of three, need two", two, 2, k.witnessV, nil, []string{"witness.example/w1", "witness.example/w2"}},
		{"two of three, need three", two, 3, k.witnessV, ErrTooFewCosignatures, nil},
		{"log only, need one", logOnly, 1, k.witnessV, ErrTooFewCosignatures, nil},
		{"unknown signature ignored", unknown, 2, k.witnessV, nil, []string{"witness.example/w1", "witness.example/w2"}},
		{"invalid cosignature counts as absent", append(bytes.Clone(two), badLine...), 3, k.witnessV, ErrTooFewCosignatures, nil},
		{"invalid cosignature does not spoil valid ones", append(bytes.Clone(two), badLine...), 2, k.witnessV, nil, []string{"witness.example/w1", "witness.example/w2"}},
		{"one witness listed twice counts once", cosign(t, logOnly, k.witnesses[0]), 2, []note.Verifier{k.witnessV[0], k.witnessV[0]}, ErrTooFewCosignatures, nil},
		{"no log signature", cosign(t, bytes.Replace(logOnly, []byte("— "+testOrigin), []byte("— x.example/y"), 1), k.witnesses[0]), 0, nil, ErrLogSignature, nil},
		{"bad log signature", tamperedLog, 0, nil, ErrLogSignature, nil},
		{"another origin signed by our key", foreign, 0, nil, ErrLogSignature, nil},
		{"not a note", []byte("hello\n"), 0, nil, ErrMalformed, nil},
		{"control character", bytes.Replace(logOnly, []byte("log.coffer"), []byte("log\x01coffer"), 1), 0, nil, ErrMalformed, nil},
		{"too long", append(bytes.Repeat([]byte("a"), MaxNoteSize), logOnly...), 0, nil, ErrMalformed, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Policy{Log: k.logV, Witnesses: tc.witnesses, Threshold: tc.threshold}
			got, names, err := p.Verify(tc.signed)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err != nil {
				return
			}
			if *got != c || !slices.Equal(names, tc.names) {
				t.Fatalf("got %+v by %v", got, names)
			}
		})
	}
}

func TestPolicyErrorCounts(t *testing.T) {
	k := newTestKeys(t, 3)
	c := newMemLog(t, 5).checkpoint(t, 5)
	_, _, err := Policy{Log: k.logV, Witnesses: k.witnessV, Threshold: 3}.Verify(k.sign(t, c, k.witnesses[1]))
	if err == nil || !strings.Contains(err.Error(), "from 1 of the 3 witnesses") {
		t.Fatalf("error does not count cosignatures: %v", err)
	}
	if _, _, err := (Policy{Log: k.logV, Witnesses: k.witnessV[:1], Threshold: 2}).Verify(k.sign(t, c)); err == nil {
		t.Fatal("accepted a policy that cannot be met")
	}
	if _, _, err := (Policy{Log: k.logV, Witnesses: []note.Verifier{nil}}).Verify(k.sign(t, c)); err == nil {
		t.Fatal("accepted a policy with a nil witness key")
	}
}

// TestPolicyOpenTimes: Open reports each valid cosignature's timestamp, in
// the policy's order, and the zero time for a witness key whose
// signatures carry none.
func TestPolicyOpenTimes(t *testing.T) {
	k := newTestKeys(t, 2)
	c := newMemLog(t, 5).checkpoint(t, 5)
	at := func(name string, when time.Time) note.Signer {
		s, err := NewCosigner(cosignerSkey(name, seed(name)), func() time.Time { return when })
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	plain, err := NewLogSigner(logSkey("plain.example/w", seed("plain")))
	if err != nil {
		t.Fatal(err)
	}
	plainV, err := NewLogVerifier(mustVkey(t, "plain.example/w", seed("plain")))
	if err != nil {
		t.Fatal(err)
	}
	later := testTime.Add(time.Hour)
	last := time.Unix(math.MaxInt64, 0)
	tests := []struct {
		name      string
		signed    []byte
		witnesses []note.Verifier
		want      []Cosignature
	}{
		{"two times, policy order", k.sign(t, c, at("witness.example/w2", later), k.witnesses[0]), k.witnessV,
			[]Cosignature{{"witness.example/w1", testTime}, {"witness.example/w2", later}}},
		{"latest timestamp", k.sign(t, c, at("witness.example/w1", last)), k.witnessV[:1],
			[]Cosignature{{"witness.example/w1", last}}},
		{"key without timestamps", k.sign(t, c, plain), []note.Verifier{plainV},
			[]Cosignature{{"plain.example/w", time.Time{}}}},
		{"none", k.sign(t, c), k.witnessV, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, cosigs, err := Policy{Log: k.logV, Witnesses: tc.witnesses}.Open(tc.signed)
			if err != nil || *got != c || !slices.Equal(cosigs, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", cosigs, err, tc.want)
			}
		})
	}
}

package mailbox_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/coffer-backup/coffer/internal/mailbox"
	"github.com/coffer-backup/coffer/internal/typable"
)

func scheme(name string, hash int) *mailbox.Scheme {
	return &mailbox.Scheme{
		Form:    typable.Form{What: name + " code", Size: mailbox.CodeSize, Hash: hash},
		LabelID: name + " id", LabelKey: name + " key", LabelAD: name, Slots: 4,
	}
}

// TestSchemesApart checks that two schemes given the same code bytes derive
// different mailboxes and keys, so a message of one never opens in the
// other, and that a code parses only in its own form.
func TestSchemesApart(t *testing.T) {
	a, b := scheme("a", 1), scheme("b", 2)
	ca, err := a.NewCode(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, mailbox.CodeSize)
	copy(raw, ca.Derive("unrelated", mailbox.CodeSize)) // any bytes will do
	ca, _ = a.ParseCode(a.Form.Encode(raw))
	cb, err := b.ParseCode(b.Form.Encode(raw))
	if err != nil {
		t.Fatal(err)
	}
	if ca.ID() == cb.ID() {
		t.Fatal("two schemes share a mailbox ID")
	}
	sealed, err := ca.Seal(1, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Open(1, sealed); !errors.Is(err, mailbox.ErrOpen) {
		t.Fatalf("other scheme: %v, want ErrOpen", err)
	}
	if got, err := ca.Open(1, sealed); err != nil || !bytes.Equal(got, []byte("hello")) {
		t.Fatalf("own scheme: %q, %v", got, err)
	}
	if _, err := b.ParseCode(ca.String()); err == nil {
		t.Fatal("a code of scheme a parsed as scheme b's")
	}
}

func TestRefusals(t *testing.T) {
	s := scheme("a", 1)
	c, err := s.NewCode(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := c.Seal(2, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		slot   byte
		sealed []byte
		want   error
	}{
		{"slot 0", 0, sealed, mailbox.ErrSlot},
		{"slot past the last", 5, sealed, mailbox.ErrSlot},
		{"another slot", 3, sealed, mailbox.ErrOpen},
		{"short", 2, sealed[:mailbox.NonceSize+mailbox.TagSize-1], mailbox.ErrOpen},
		{"too large", 2, make([]byte, mailbox.MaxSealed+1), mailbox.ErrTooLarge},
	} {
		if _, err := c.Open(tc.slot, tc.sealed); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := c.Seal(1, make([]byte, mailbox.MaxMessage+1)); !errors.Is(err, mailbox.ErrTooLarge) {
		t.Errorf("sealing too much: %v", err)
	}
}

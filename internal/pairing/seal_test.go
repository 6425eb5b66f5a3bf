package pairing

import (
	"bytes"
	"errors"
	"github.com/coffer-backup/coffer/internal/mailbox"
	"testing"
)

// TestSealVectors checks seal against XChaCha20-Poly1305 computed by the
// independent Python implementation in testdata/vectors.py, and Open.
func TestSealVectors(t *testing.T) {
	for _, v := range loadVectors(t).Seals {
		c := codeOf(t, v.Code)
		msg, want := unhex(t, v.Msg), unhex(t, v.Sealed)
		got, err := c.SealWithNonce(v.Slot, msg, unhex(t, v.Nonce))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("code %s slot %d: sealed %x, %v; want %x", v.Code, v.Slot, got, err, want)
		}
		if opened, err := c.Open(v.Slot, want); err != nil || !bytes.Equal(opened, msg) {
			t.Errorf("code %s slot %d: Open = %x, %v", v.Code, v.Slot, opened, err)
		}
	}
}

func TestSealOpen(t *testing.T) {
	c, other := codeOf(t, "000102030405060708090a0b0c0d0e0f"), codeOf(t, "000102030405060708090a0b0c0d0e0e")
	big := bytes.Repeat([]byte{0xa5}, MaxMessage)
	for _, msg := range [][]byte{nil, []byte("hello"), big} {
		for slot := SlotJoin; slot <= SlotDone; slot++ {
			s1, err := c.Seal(slot, msg)
			if err != nil {
				t.Fatalf("Seal(%d, %d bytes): %v", slot, len(msg), err)
			}
			s2, _ := c.Seal(slot, msg)
			if bytes.Equal(s1, s2) || len(s1) != mailbox.NonceSize+len(msg)+mailbox.TagSize {
				t.Errorf("slot %d: two seals equal, or size %d", slot, len(s1))
			}
			if got, err := c.Open(slot, s1); err != nil || !bytes.Equal(got, msg) {
				t.Errorf("slot %d: Open = %v", slot, err)
			}
			if _, err := c.Open(slot%4+1, s1); !errors.Is(err, ErrOpen) {
				t.Errorf("slot %d opened as slot %d: %v", slot, slot%4+1, err)
			}
			if _, err := other.Open(slot, s1); !errors.Is(err, ErrOpen) {
				t.Errorf("slot %d opened under another code: %v", slot, err)
			}
		}
	}
}

func TestOpenRefusals(t *testing.T) {
	c := codeOf(t, "000102030405060708090a0b0c0d0e0f")
	sealed, err := c.Seal(SlotOffer, []byte("offer"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte { b := bytes.Clone(sealed); b[i] ^= 1; return b }
	for _, tc := range []struct {
		name   string
		slot   byte
		sealed []byte
		want   error
	}{
		{"nonce altered", SlotOffer, flip(0), ErrOpen},
		{"ciphertext altered", SlotOffer, flip(mailbox.NonceSize), ErrOpen},
		{"tag altered", SlotOffer, flip(len(sealed) - 1), ErrOpen},
		{"truncated", SlotOffer, sealed[:len(sealed)-1], ErrOpen},
		{"shorter than nonce and tag", SlotOffer, sealed[:mailbox.NonceSize+mailbox.TagSize-1], ErrOpen},
		{"empty", SlotOffer, nil, ErrOpen},
		{"slot 0", 0, sealed, ErrSlot},
		{"slot 5", 5, sealed, ErrSlot},
		{"too large", SlotOffer, make([]byte, mailbox.MaxSealed+1), ErrTooLarge},
	} {
		if _, err := c.Open(tc.slot, tc.sealed); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		slot byte
		size int
		want error
	}{
		{"slot 0", 0, 1, ErrSlot},
		{"slot 255", 255, 1, ErrSlot},
		{"too large", SlotJoin, MaxMessage + 1, ErrTooLarge},
	} {
		if _, err := c.Seal(tc.slot, make([]byte, tc.size)); !errors.Is(err, tc.want) {
			t.Errorf("Seal %s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

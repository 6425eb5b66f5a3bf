package crypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/crypto/hkdf"

	"github.com/coffer-backup/coffer/internal/blob"
)

// vectors is testdata/vectors.json, the known answers of docs/format.md
// §2.1–§2.3 and §3, produced by testdata/vectors.py, which shares no code
// with this package. Byte strings are hexadecimal.
type vectors struct {
	Keys []struct {
		Root      string `json:"root_key"`
		Data      string `json:"data_key"`
		ID        string `json:"id_key"`
		Gear      string `json:"gear_key"`
		Gear0     string `json:"gear_table_0"`
		Gear1     string `json:"gear_table_1"`
		Gear255   string `json:"gear_table_255"`
		GearTable string `json:"gear_table_sha256"`
	} `json:"keys"`
	BlobIDs []struct {
		IDKey     string    `json:"id_key"`
		Type      blob.Type `json:"type"`
		Plaintext string    `json:"plaintext"`
		ID        string    `json:"id"`
	} `json:"blob_ids"`
	Envelopes []envelopeVector `json:"envelopes"`
}

type envelopeVector struct {
	DataKey    string `json:"data_key"`
	Session    string `json:"session"`
	Counter    uint64 `json:"counter"`
	SessionKey string `json:"session_key"`
	Label      string `json:"ad_label"`
	Identity   string `json:"ad_identity"`
	AD         string `json:"ad"`
	Plaintext  string `json:"plaintext"`
	Envelope   string `json:"envelope"`
}

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Keys) == 0 || len(v.BlobIDs) == 0 || len(v.Envelopes) == 0 {
		t.Fatal("testdata/vectors.json lacks a section")
	}
	return &v
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func keyOf(t testing.TB, s string) *Key {
	t.Helper()
	b := unhex(t, s)
	if len(b) != KeySize {
		t.Fatalf("key %q is %d bytes", s, len(b))
	}
	return (*Key)(b)
}

func TestDeriveKeysVectors(t *testing.T) {
	for _, v := range loadVectors(t).Keys {
		k, err := DeriveKeys(keyOf(t, v.Root))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			got  *Key
			want string
		}{{"data", &k.Data, v.Data}, {"id", &k.ID, v.ID}, {"gear", &k.Gear, v.Gear}} {
			if !c.got.Equal(keyOf(t, c.want)) {
				t.Errorf("root %s: %s key %x, want %s", v.Root, c.name, c.got[:], c.want)
			}
		}
	}
}

func TestGearTableVectors(t *testing.T) {
	for _, v := range loadVectors(t).Keys {
		tab, err := GearTable(keyOf(t, v.Gear))
		if err != nil {
			t.Fatal(err)
		}
		okm := make([]byte, 0, 2048)
		for _, x := range tab {
			okm = binary.LittleEndian.AppendUint64(okm, x)
		}
		sum := sha256.Sum256(okm)
		for _, c := range []struct{ got, want string }{
			{fmt.Sprintf("%016x", tab[0]), v.Gear0},
			{fmt.Sprintf("%016x", tab[1]), v.Gear1},
			{fmt.Sprintf("%016x", tab[255]), v.Gear255},
			{hex.EncodeToString(sum[:]), v.GearTable},
		} {
			if c.got != c.want {
				t.Errorf("gear key %s: got %s, want %s", v.Gear, c.got, c.want)
			}
		}
	}
}

func TestHasherVectors(t *testing.T) {
	for _, v := range loadVectors(t).BlobIDs {
		h := NewHasher(keyOf(t, v.IDKey))
		if got := h.Sum(v.Type, unhex(t, v.Plaintext)); got.String() != v.ID {
			t.Errorf("type %d, %d-byte plaintext: ID %s, want %s", v.Type, len(v.Plaintext)/2, got, v.ID)
		}
	}
}

// sealIndependently builds an envelope from the spec (docs/format.md §2.2)
// with golang.org/x/crypto/hkdf and AES-GCM, without Sealer: what a second
// implementation would do.
func sealIndependently(t testing.TB, master, session []byte, counter uint64, plaintext, ad []byte) []byte {
	t.Helper()
	return independentAEAD(t, master, session).Seal(append(session[:SessionSize:SessionSize], counterNonce(counter)...),
		counterNonce(counter), plaintext, ad)
}

func counterNonce(counter uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 4), counter)
}

func independentAEAD(t testing.TB, master, session []byte) cipher.AEAD {
	t.Helper()
	k := make([]byte, 32)
	if _, err := hkdf.New(sha256.New, master, session, []byte("coffer v1 envelope session key")).Read(k); err != nil {
		t.Fatal(err)
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		t.Fatal(err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestEnvelopeVectors(t *testing.T) {
	for i, v := range loadVectors(t).Envelopes {
		ad := AD(v.Label, unhex(t, v.Identity))
		if hex.EncodeToString(ad) != v.AD {
			t.Errorf("vector %d: AD %x, want %s", i, ad, v.AD)
		}
		env := unhex(t, v.Envelope)
		pt := unhex(t, v.Plaintext)
		built := sealIndependently(t, unhex(t, v.DataKey), unhex(t, v.Session), v.Counter, pt, ad)
		if !bytes.Equal(built, env) {
			t.Errorf("vector %d: independent construction gives\n%x\nwant\n%x", i, built, env)
		}
		got, err := NewOpener(keyOf(t, v.DataKey)).Open([]byte("prefix"), env, ad)
		if err != nil {
			t.Fatalf("vector %d: Open: %v", i, err)
		}
		if !bytes.Equal(got, append([]byte("prefix"), pt...)) {
			t.Errorf("vector %d: Open gives %x, want prefix || %s", i, got, v.Plaintext)
		}
		if _, err := NewOpener(keyOf(t, v.DataKey)).Open(nil, env, AD(v.Label+"x", unhex(t, v.Identity))); !errors.Is(err, ErrAuth) {
			t.Errorf("vector %d: opened under another label: %v", i, err)
		}
	}
}

// TestSealerFollowsSpec checks what Sealer writes against the independent
// construction: session id, then four zero bytes and a big-endian counter
// from 0, then the AES-GCM output under the HKDF session key.
func TestSealerFollowsSpec(t *testing.T) {
	master := keyOf(t, loadVectors(t).Keys[0].Data)
	s, err := NewSealer(master)
	if err != nil {
		t.Fatal(err)
	}
	ad := AD(ADBlobTree, bytes.Repeat([]byte{7}, 32))
	var session []byte
	for i := range uint64(5) {
		pt := bytes.Repeat([]byte{byte(i)}, int(i)*10)
		env, err := s.Seal([]byte("keep"), pt, ad)
		if err != nil {
			t.Fatal(err)
		}
		if string(env[:4]) != "keep" {
			t.Fatal("Seal did not append to dst")
		}
		env = env[4:]
		if len(env) != len(pt)+Overhead {
			t.Fatalf("envelope of %d bytes for %d-byte plaintext", len(env), len(pt))
		}
		if i == 0 {
			session = env[:SessionSize]
		}
		want := sealIndependently(t, master[:], session, i, pt, ad)
		if !bytes.Equal(env, want) {
			t.Fatalf("message %d: Sealer wrote\n%x\nspec says\n%x", i, env, want)
		}
	}
}

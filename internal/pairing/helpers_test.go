package pairing

import (
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/coffer-backup/coffer/internal/keys"
)

type vectors struct {
	Codes []struct {
		Code, Text, ID, Key string
	} `json:"codes"`
	Seals []struct {
		Code, Nonce, Msg, Sealed string
		Slot                     byte
	} `json:"seals"`
	ShareCodes []struct {
		Account, Y, Text string
		X                byte
	} `json:"share_codes"`
}

// loadVectors reads testdata/vectors.json, written by testdata/vectors.py.
func loadVectors(t testing.TB) vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Codes) < 4 || len(v.Seals) < 4 || len(v.ShareCodes) < 3 {
		t.Fatalf("vectors.json holds too few vectors: %d, %d, %d", len(v.Codes), len(v.Seals), len(v.ShareCodes))
	}
	return v
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func codeOf(t testing.TB, s string) *Code {
	t.Helper()
	c, err := scheme.ParseCode(scheme.Form.Encode(unhex(t, s)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// seq returns n bytes start, start+1, ….
func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// testDevice returns the public record of a device built from fixed seeds,
// the same on every run.
func testDevice(t testing.TB) keys.DevicePublic {
	t.Helper()
	sign := ed25519.NewKeyFromSeed(seq(32, 0x10))
	kem, err := hpke.MLKEM768X25519().NewPrivateKey(seq(32, 0x30))
	if err != nil {
		t.Fatal(err)
	}
	pub := sign.Public().(ed25519.PublicKey)
	d := keys.Device{ID: keys.DeviceID(pub), Sign: sign, KEM: kem, Name: "new laptop"}
	return d.Public()
}

package devices

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/chain-v1.json")

const vectorsFile = "testdata/chain-v1.json"

// chainVectors is testdata/chain-v1.json: the standard chain (see
// standardChain) built from fixed keys, with the hash of every entry.
type chainVectors struct {
	Account  string        `json:"account_id"`
	Devices  []devVector   `json:"devices"`
	Recovery []string      `json:"recovery_keys"`
	Commits  []string      `json:"root_key_commitments"`
	Entries  []entryVector `json:"entries"`
}

// devVector: how a test device's keys are made.
type devVector struct {
	Name       string `json:"name"`
	SignSeed   string `json:"ed25519_seed"`
	KEMSeed    string `json:"mlkem768x25519_seed"`
	DeviceID   string `json:"device_id"`
	SigningPub string `json:"ed25519_public"`
}

// entryVector: one entry's exact bytes and SHA-256.
type entryVector struct {
	Type    string `json:"type"`
	Signer  string `json:"signer"`
	Encoded string `json:"entry"`
	Hash    string `json:"hash"`
}

func makeVectors(t *testing.T) *chainVectors {
	entries, _ := standardChain(t)
	v := &chainVectors{Account: account, Recovery: []string{recoveryText1, recoveryText2}}
	for _, n := range []string{"laptop", "phone", "desktop", "friend", "sister", "browser"} {
		d := dev(t, n)
		kemSeed, err := d.KEM.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		v.Devices = append(v.Devices, devVector{n, hex.EncodeToString(d.Sign.Seed()), hex.EncodeToString(kemSeed), d.ID, hex.EncodeToString(d.Public().Sign)})
	}
	for e := range 3 {
		c := commit(byte(e))
		v.Commits = append(v.Commits, hex.EncodeToString(c[:]))
	}
	for _, b := range entries {
		e, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		h := Hash(b)
		v.Entries = append(v.Entries, entryVector{e.Type.String(), e.Signer, hex.EncodeToString(b), hex.EncodeToString(h[:])})
	}
	return v
}

// TestVectors checks that the fixed keys build exactly the entries of
// testdata/chain-v1.json, and that those entries verify to the head hash
// given for the last one. Rewrite the file with -update.
func TestVectors(t *testing.T) {
	got := makeVectors(t)
	js, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	js = append(js, '\n')
	if *update {
		if err := os.WriteFile(vectorsFile, js, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(js, want) {
		t.Fatalf("built chain differs from %s (run with -update if the format changed on purpose)", vectorsFile)
	}
	var v chainVectors
	if err := json.Unmarshal(want, &v); err != nil {
		t.Fatal(err)
	}
	var entries [][]byte
	for _, e := range v.Entries {
		b, err := hex.DecodeString(e.Encoded)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, b)
	}
	c, err := Verify(v.Account, entries)
	if err != nil {
		t.Fatal(err)
	}
	if head := c.Head(); hex.EncodeToString(head[:]) != v.Entries[len(v.Entries)-1].Hash {
		t.Fatalf("head %x", head)
	}
}

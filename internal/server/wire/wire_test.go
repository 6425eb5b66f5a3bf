package wire

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// vector is one entry of testdata/vectors.json, written independently by
// testdata/vectors.py.
type vector struct {
	Seed               string          `json:"seed"`
	SignKey            string          `json:"sign_key"`
	Device             string          `json:"device"`
	Account            string          `json:"account"`
	Genesis            string          `json:"genesis"`
	Entry              string          `json:"entry"`
	Pairing            string          `json:"pairing"`
	Challenge          string          `json:"challenge"`
	AuthMessage        string          `json:"auth_message"`
	AuthSignature      string          `json:"auth_signature"`
	RegisterRequest    json.RawMessage `json:"register_request"`
	ChainAppendRequest json.RawMessage `json:"chain_append_request"`
	PairingRequest     json.RawMessage `json:"pairing_request"`
	TokenRequest       json.RawMessage `json:"token_request"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []vector `json:"vectors"`
	}
	strict(t, b, &f)
	if len(f.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	return f.Vectors
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVectors checks the signed message, its signature and the JSON
// request bodies against the independent vectors.
func TestVectors(t *testing.T) {
	for i, v := range loadVectors(t) {
		key := ed25519.NewKeyFromSeed(unhex(t, v.Seed))
		if pub := key.Public().(ed25519.PublicKey); !bytes.Equal(pub, unhex(t, v.SignKey)) {
			t.Errorf("%s: public key %x", v.Device, pub)
		}
		ch := unhex(t, v.Challenge)
		msg := AuthMessage(v.Account, v.Device, ch)
		if !bytes.Equal(msg, unhex(t, v.AuthMessage)) {
			t.Errorf("auth message of %s: %x", v.Device, msg)
		}
		if sig := ed25519.Sign(key, msg); !bytes.Equal(sig, unhex(t, v.AuthSignature)) {
			t.Errorf("auth signature of %s: %x", v.Device, sig)
		}
		var reg RegisterRequest
		strict(t, v.RegisterRequest, &reg)
		if reg.Account != v.Account || !bytes.Equal(reg.Genesis, unhex(t, v.Genesis)) {
			t.Errorf("register request %+v", reg)
		}
		var app ChainAppend
		strict(t, v.ChainAppendRequest, &app)
		if app.Seq != uint64(7+i) || !bytes.Equal(app.Entry, unhex(t, v.Entry)) {
			t.Errorf("chain append request %+v", app)
		}
		var pr PairingRequest
		strict(t, v.PairingRequest, &pr)
		if pr.ID != v.Pairing || len(pr.ID) != PairingIDLen || pr.TTL != 600*(i+1) {
			t.Errorf("pairing request %+v", pr)
		}
		var tok TokenRequest
		strict(t, v.TokenRequest, &tok)
		if tok.Account != v.Account || tok.Device != v.Device || !bytes.Equal(tok.Challenge, ch) || !bytes.Equal(tok.Signature, unhex(t, v.AuthSignature)) {
			t.Errorf("token request %+v", tok)
		}
	}
}

// strict decodes b into v, refusing unknown fields, as the server does.
func strict(t *testing.T, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestEncodings checks the JSON the server writes: field names, base64 with
// padding, RFC 3339 times, and null for an active device's revocation.
func TestEncodings(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	version := int64(7)
	length := uint64(5)
	for _, tc := range []struct {
		v    any
		want string
	}{
		{ChallengeResponse{Challenge: []byte{1, 2}, Expires: at}, `{"challenge":"AQI=","expires":"2026-01-02T03:04:05Z"}`},
		{TokenResponse{Token: "t", Expires: at}, `{"token":"t","expires":"2026-01-02T03:04:05Z"}`},
		{DeviceInfo{Device: "d", SignKey: []byte{0}, Name: "n", Rights: RightsFull, Added: at},
			`{"device":"d","sign_key":"AA==","name":"n","rights":"full","added_by":"","added":"2026-01-02T03:04:05Z","revoked":null}`},
		{ListResponse{Objects: []ObjectInfo{{"a", 1}}, Next: "a"}, `{"objects":[{"name":"a","size":1}],"next":"a"}`},
		{Ref{Value: []byte("x"), Version: 2}, `{"value":"eA==","version":2}`},
		{RefVersion{Version: 3}, `{"version":3}`},
		{Error{Error: "e", Code: CodeConflict, Version: &version}, `{"error":"e","code":"conflict","version":7}`},
		{Error{Error: "e", Code: CodeExists}, `{"error":"e","code":"exists"}`},
		{Error{Error: "e", Code: CodeConflict, Length: &length}, `{"error":"e","code":"conflict","length":5}`},
		{ChainPage{Entries: [][]byte{{1}, {}}}, `{"entries":["AQ==",""]}`},
		{ChainPage{Entries: [][]byte{}}, `{"entries":[]}`},
		{ChainAppend{Seq: 1, Entry: []byte{2}}, `{"seq":1,"entry":"Ag=="}`},
		{ChainLength{Length: 2}, `{"length":2}`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("%T: %s, %v; want %s", tc.v, b, err, tc.want)
		}
	}
}

func TestPin(t *testing.T) {
	if got := Pin([]byte("abc")); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("Pin(abc) = %s", got)
	}
}

// TestValidAccountName checks the account name rule at its edges.
func TestValidAccountName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"0", true},
		{"alice@example.org", true},
		{"a.b_c-d+e@f", true},
		{string(bytes.Repeat([]byte("a"), MaxAccountName)), true},
		{string(bytes.Repeat([]byte("a"), MaxAccountName+1)), false},
		{"", false},
		{".alice", false},
		{"-alice", false},
		{"@alice", false},
		{"Alice", false},
		{"al ice", false},
		{"al/ice", false},
		{"al%40ice", false},
		{"alicé", false},
		{"a\x00", false},
	} {
		if got := ValidAccountName(tc.name); got != tc.ok {
			t.Errorf("ValidAccountName(%q) = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

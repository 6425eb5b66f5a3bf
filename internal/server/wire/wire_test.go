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
	Seed              string          `json:"seed"`
	SignKey           string          `json:"sign_key"`
	Device            string          `json:"device"`
	Account           string          `json:"account"`
	RegisterMessage   string          `json:"register_message"`
	RegisterSignature string          `json:"register_signature"`
	Challenge         string          `json:"challenge"`
	AuthMessage       string          `json:"auth_message"`
	AuthSignature     string          `json:"auth_signature"`
	RegisterRequest   json.RawMessage `json:"register_request"`
	TokenRequest      json.RawMessage `json:"token_request"`
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

// TestVectors checks the signed messages, their signatures and the JSON
// request bodies against the independent vectors.
func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		key := ed25519.NewKeyFromSeed(unhex(t, v.Seed))
		if pub := key.Public().(ed25519.PublicKey); !bytes.Equal(pub, unhex(t, v.SignKey)) {
			t.Errorf("%s: public key %x", v.Device, pub)
		}
		ch := unhex(t, v.Challenge)
		for _, m := range []struct {
			name    string
			got     []byte
			want    string
			wantSig string
		}{
			{"register", RegisterMessage(v.Account, v.Device), v.RegisterMessage, v.RegisterSignature},
			{"auth", AuthMessage(v.Account, v.Device, ch), v.AuthMessage, v.AuthSignature},
		} {
			if !bytes.Equal(m.got, unhex(t, m.want)) {
				t.Errorf("%s message of %s: %x", m.name, v.Device, m.got)
			}
			if sig := ed25519.Sign(key, m.got); !bytes.Equal(sig, unhex(t, m.wantSig)) {
				t.Errorf("%s signature of %s: %x", m.name, v.Device, sig)
			}
		}
		var reg RegisterRequest
		strict(t, v.RegisterRequest, &reg)
		if reg.Account != v.Account || !bytes.Equal(reg.Device.SignKey, unhex(t, v.SignKey)) || reg.Device.Name == "" ||
			!bytes.Equal(reg.Signature, unhex(t, v.RegisterSignature)) {
			t.Errorf("register request %+v", reg)
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

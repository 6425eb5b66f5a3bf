package keys

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"testing"
)

// Each fuzz target parses hostile bytes; whatever parses must re-encode to
// exactly the input, so that no two encodings mean the same thing.

func FuzzParseKeystore(f *testing.F) {
	good := readTestdata(f, loadVectors(f).Keystore.File)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(good[:40])
	f.Add([]byte(keystoreMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := parseKeystore(b)
		if err != nil {
			return
		}
		if k.kdf.Validate() != nil || k.pub.Verify() != nil {
			t.Fatal("parsed a keystore with invalid parameters or identity")
		}
		if !bytes.Equal(k.marshal(), b) {
			t.Fatal("re-encoding differs from the input")
		}
	})
}

func FuzzParseDeviceObject(f *testing.F) {
	good := readTestdata(f, loadVectors(f).Wraps.DeviceFile)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(good[:2])
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := parseDeviceObject(b)
		if err != nil {
			return
		}
		if o.pub.Verify() != nil {
			t.Fatal("parsed a device object with an invalid identity")
		}
		if !bytes.Equal(o.marshal(), b) {
			t.Fatal("re-encoding differs from the input")
		}
	})
}

func FuzzParseKeyring(f *testing.F) {
	for _, v := range loadVectors(f).Keyrings {
		good := unhex(f, v.Object)
		f.Add(good, v.Epoch)
		f.Add(good[:len(good)-1], v.Epoch)
	}
	f.Add([]byte{wrapVersion, typeKeyring}, uint64(1))
	f.Fuzz(func(t *testing.T, b []byte, e uint64) {
		if e == 0 || e >= MaxEpochs {
			return
		}
		nonce, sealed, err := parseKeyring(b, e)
		if err != nil {
			return
		}
		again := binary.BigEndian.AppendUint64([]byte{wrapVersion, typeKeyring}, e)
		if !bytes.Equal(append(append(again, nonce...), sealed...), b) {
			t.Fatal("re-encoding differs from the input")
		}
	})
}

func FuzzParseSealed(f *testing.F) {
	good := readTestdata(f, loadVectors(f).Sealed.File)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(good[:18])
	f.Fuzz(func(t *testing.T, b []byte) {
		id, sealed, err := parseSealed(b)
		if err != nil {
			return
		}
		raw, _ := hex.DecodeString(id)
		again := append(append([]byte{wrapVersion, typeSealed}, raw...), sealed...)
		if !bytes.Equal(again, b) {
			t.Fatal("re-encoding differs from the input")
		}
	})
}

func FuzzParseIdentity(f *testing.F) {
	good := MarshalIdentity(testDevice.Public())
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{wrapVersion, typeIdentity})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseIdentity(b)
		if err != nil {
			return
		}
		if !bytes.Equal(MarshalIdentity(p), b) {
			t.Fatal("re-encoding differs from the input")
		}
	})
}

func FuzzParseRecoveryKey(f *testing.F) {
	for _, v := range loadVectors(f).Recovery {
		f.Add(v.Text)
	}
	f.Add("0000 0000 oooo iiii llll")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		rk, err := ParseRecoveryKey(s)
		if err != nil {
			return
		}
		again, err := ParseRecoveryKey(rk.String())
		if err != nil || again.key != rk.key {
			t.Fatalf("canonical form does not parse back: %v", err)
		}
	})
}

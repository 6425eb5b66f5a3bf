package keys

import (
	"bytes"
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

func FuzzParseRecoveryObject(f *testing.F) {
	good := readTestdata(f, loadVectors(f).Wraps.RecoveryFile)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{wrapVersion, typeRecovery})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := parseRecoveryObject(b)
		if err != nil {
			return
		}
		if !bytes.Equal(o.marshal(), b) {
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

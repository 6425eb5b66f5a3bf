package index

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/pycheck"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testID returns a fixed, well-spread ID named by s.
func testID(s string) blob.ID { return sha256.Sum256([]byte(s)) }

// fixture is the File encoded in testdata/v1.index. Its names were picked
// so that it is already in canonical order.
func fixture() *File {
	return &File{
		Packs: []Pack{
			{ID: testID("pack 4"), Blobs: []Blob{
				{Type: blob.Data, ID: testID("blob a"), Offset: 0, Length: 1044, RawLength: 4096},
				{Type: blob.Tree, ID: testID("blob b"), Offset: 1044, Length: 300, RawLength: 700},
				{Type: blob.Data, ID: testID("blob c"), Offset: 2000, Length: 44, RawLength: 0},
			}},
			{ID: testID("pack 5"), Blobs: []Blob{
				{Type: blob.Tree, ID: testID("blob d"), Offset: 16, Length: 0xFFFFFFFF - 16, RawLength: 0xFFFFFFFF},
			}},
		},
		Supersedes: []blob.ID{testID("old index 4"), testID("old index 5")},
	}
}

// canonical returns f with its lists in the order Encode writes them.
func canonical(t *testing.T, f *File) *File {
	t.Helper()
	g, err := Decode(f.Encode())
	if err != nil {
		t.Fatalf("decoding the encoding of a valid File: %v", err)
	}
	return g
}

func golden(t *testing.T, name string, got []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return want
}

func TestGolden(t *testing.T) {
	f := canonical(t, fixture())
	if !reflect.DeepEqual(f, fixture()) {
		t.Fatalf("fixture is not in canonical order")
	}
	want := golden(t, "v1.index", f.Encode())
	if got := f.Encode(); !bytes.Equal(got, want) {
		t.Fatalf("Encode differs from testdata/v1.index:\n got %x\nwant %x", got, want)
	}
	dec, err := Decode(want)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dec, f) {
		t.Fatalf("Decode(golden) = %+v, want %+v", dec, f)
	}
}

func TestEncodeCanonical(t *testing.T) {
	want := fixture().Encode()
	for _, tc := range []struct {
		name    string
		shuffle func(f *File)
	}{
		{"packs reversed", func(f *File) { f.Packs[0], f.Packs[1] = f.Packs[1], f.Packs[0] }},
		{"blobs reversed", func(f *File) { b := f.Packs[0].Blobs; b[0], b[2] = b[2], b[0] }},
		{"supersedes reversed", func(f *File) { f.Supersedes[0], f.Supersedes[1] = f.Supersedes[1], f.Supersedes[0] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fixture()
			tc.shuffle(f)
			before := fixture()
			tc.shuffle(before)
			if got := f.Encode(); !bytes.Equal(got, want) {
				t.Errorf("encoding depends on order:\n got %x\nwant %x", got, want)
			}
			if !reflect.DeepEqual(f, before) {
				t.Errorf("Encode reordered its receiver")
			}
		})
	}
}

func TestEncodedSize(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	for _, f := range []*File{{}, fixture(), {Supersedes: []blob.ID{testID("x")}}} {
		if unsigned := len(f.Encode()); unsigned > f.EncodedSize() {
			t.Errorf("unsigned encoding of %d bytes, over EncodedSize() = %d", unsigned, f.EncodedSize())
		}
		if err := f.Sign("acct", strings.Repeat("ab", 16), key); err != nil {
			t.Fatal(err)
		}
		if got, want := f.EncodedSize(), len(f.Encode()); got != want {
			t.Errorf("EncodedSize() = %d, len(Encode()) of the signed file = %d", got, want)
		}
	}
}

// TestSignature: a signed object decodes to the same signer and
// signature, re-encodes to the same bytes, and verifies only under its
// signer's key and account, and only as it was signed.
func TestSignature(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))
	f := fixture()
	if f.Verify("acct", key.Public().(ed25519.PublicKey)) {
		t.Fatal("an unsigned file verifies")
	}
	if err := f.Sign("acct", strings.Repeat("0a", 16), key); err != nil {
		t.Fatal(err)
	}
	b := f.Encode()
	g, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g.Encode(), b) || g.Signer != f.Signer {
		t.Fatal("a signed object does not round-trip")
	}
	pub, otherPub := key.Public().(ed25519.PublicKey), other.Public().(ed25519.PublicKey)
	if !g.VerifyRead("acct", pub) || g.VerifyRead("acct", otherPub) || g.VerifyRead("acct2", pub) {
		t.Error("VerifyRead of the object as read: not true for its signer and account alone")
	}
	if f.VerifyRead("acct", pub) {
		t.Error("VerifyRead of a File Decode did not return is true")
	}
	tampered := bytes.Clone(b)
	tampered[len(g.signedBody)-1] ^= 1 // the last blob's raw length
	if h, err := Decode(tampered); err != nil || h.VerifyRead("acct", pub) {
		t.Errorf("tampered bytes: decode error %v, or VerifyRead true", err)
	}
	for _, tc := range []struct {
		name    string
		account string
		pub     ed25519.PublicKey
		edit    func(*File)
		want    bool
	}{
		{"as signed", "acct", key.Public().(ed25519.PublicKey), func(*File) {}, true},
		{"another key", "acct", other.Public().(ed25519.PublicKey), func(*File) {}, false},
		{"another account", "acct2", key.Public().(ed25519.PublicKey), func(*File) {}, false},
		{"a blob moved", "acct", key.Public().(ed25519.PublicKey), func(f *File) { f.Packs[0].Blobs[0].Offset++ }, false},
		{"supersedes added", "acct", key.Public().(ed25519.PublicKey), func(f *File) { f.Supersedes = append(f.Supersedes, testID("y")) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(h)
			if got := h.Verify(tc.account, tc.pub); got != tc.want {
				t.Errorf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDecodeValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    *File
	}{
		{"empty", &File{Packs: []Pack{}, Supersedes: []blob.ID{}}},
		{"supersedes only", &File{Packs: []Pack{}, Supersedes: []blob.ID{testID("gone")}}},
		{"adjacent blobs", &File{Packs: []Pack{{ID: testID("p"), Blobs: []Blob{
			{Type: blob.Data, ID: testID("a"), Offset: 0, Length: 44},
			{Type: blob.Data, ID: testID("b"), Offset: 44, Length: 50},
		}}}, Supersedes: []blob.ID{}}},
		{"fixture", fixture()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := tc.f.Encode()
			got, err := Decode(enc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.f) {
				t.Fatalf("Decode(Encode(f)) = %+v, want %+v", got, tc.f)
			}
		})
	}
}

// Offsets into the golden encoding, for tampering with it.
const (
	offSupCount  = headerSize
	offSup0      = offSupCount + countSize
	offPackCount = offSup0 + 2*blob.IDSize
	offPack0     = offPackCount + countSize
	offBlobCount = offPack0 + blob.IDSize
	offBlob0     = offBlobCount + countSize
	offBlob1     = offBlob0 + blobRecordSize
	offPack1     = offBlob0 + 3*blobRecordSize
	offLastBlob  = offPack1 + packHeaderSize
	offEnd       = offLastBlob + blobRecordSize // where the padding starts
)

func TestDecodeRejects(t *testing.T) {
	le := binary.LittleEndian
	base := fixture().Encode()
	swapID := func(b []byte, x, y int) {
		var tmp [blob.IDSize]byte
		copy(tmp[:], b[x:])
		copy(b[x:x+blob.IDSize], b[y:y+blob.IDSize])
		copy(b[y:], tmp[:])
	}
	for _, tc := range []struct {
		name   string
		tamper func(b []byte) []byte
	}{
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }},
		{"bad version", func(b []byte) []byte { b[4] = 2; return b }},
		{"trailing zero byte", func(b []byte) []byte { return append(b, 0) }},
		{"supersedes count too large", func(b []byte) []byte { le.PutUint32(b[offSupCount:], 0xFFFFFFFF); return b }},
		{"supersedes unsorted", func(b []byte) []byte { swapID(b, offSup0, offSup0+blob.IDSize); return b }},
		{"supersedes duplicate", func(b []byte) []byte { copy(b[offSup0+blob.IDSize:], b[offSup0:offSup0+blob.IDSize]); return b }},
		{"supersedes zero", func(b []byte) []byte { clear(b[offSup0 : offSup0+blob.IDSize]); return b }},
		{"pack count too large", func(b []byte) []byte { le.PutUint32(b[offPackCount:], 3); return b }},
		{"pack count huge", func(b []byte) []byte { le.PutUint32(b[offPackCount:], 0xFFFFFFFF); return b }},
		{"packs unsorted", func(b []byte) []byte { swapID(b, offPack0, offPack1); return b }},
		{"packs duplicate", func(b []byte) []byte { copy(b[offPack1:], b[offPack0:offPack0+blob.IDSize]); return b }},
		{"pack zero", func(b []byte) []byte { clear(b[offPack0 : offPack0+blob.IDSize]); return b }},
		{"blob count zero", func(b []byte) []byte { le.PutUint32(b[offBlobCount:], 0); return b }},
		{"blob count huge", func(b []byte) []byte { le.PutUint32(b[offBlobCount:], 0x10000000); return b }},
		{"blob type 0", func(b []byte) []byte { b[offBlob0] = 0; return b }},
		{"blob type 3", func(b []byte) []byte { b[offBlob0] = 3; return b }},
		{"blob zero ID", func(b []byte) []byte { clear(b[offBlob0+1 : offBlob0+1+blob.IDSize]); return b }},
		{"blob below overhead", func(b []byte) []byte {
			le.PutUint32(b[offBlob0+33:], 0)
			le.PutUint32(b[offBlob0+37:], crypt.Overhead-1)
			return b
		}},
		{"blobs overlap", func(b []byte) []byte { le.PutUint32(b[offBlob1+33:], 1043); return b }},
		{"blobs unsorted", func(b []byte) []byte { le.PutUint32(b[offBlob1+33:], 0); return b }},
		{"offset+length overflow", func(b []byte) []byte { le.PutUint32(b[offLastBlob+33:], 17); return b }},
		{"padding not zero", func(b []byte) []byte { b[len(b)-1] = 1; return b }},
		{"padding missing", func(b []byte) []byte { return b[:offEnd] }},
		{"oversized", func(b []byte) []byte { return append(b, make([]byte, MaxEncodedSize)...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.tamper(bytes.Clone(base))
			if f, err := Decode(b); !errors.Is(err, ErrFormat) {
				t.Fatalf("Decode = %+v, %v; want an error wrapping ErrFormat", f, err)
			}
		})
	}
}

func TestDecodeTruncated(t *testing.T) {
	base := fixture().Encode()
	for n := range len(base) {
		if f, err := Decode(base[:n]); !errors.Is(err, ErrFormat) {
			t.Fatalf("Decode of the first %d of %d bytes = %+v, %v; want ErrFormat", n, len(base), f, err)
		}
	}
}

// testKey is the master key of the known-answer vector testdata/v1.sealed.
func testKey() *crypt.Key {
	var k crypt.Key
	for i := range k {
		k[i] = byte(i)
	}
	return &k
}

// TestSealedVector opens testdata/v1.sealed, the fixture sealed once under
// testKey as every index object is sealed (§7.2), and decodes it.
func TestSealedVector(t *testing.T) {
	var fresh []byte // written to testdata by -update
	if *update {
		s, err := crypt.NewSealer(testKey())
		if err != nil {
			t.Fatal(err)
		}
		if fresh, err = s.Seal(nil, fixture().Encode(), crypt.AD(crypt.ADIndex, nil)); err != nil {
			t.Fatal(err)
		}
	}
	sealed := golden(t, "v1.sealed", fresh)
	o := crypt.NewOpener(testKey())
	for _, tc := range []struct {
		name   string
		sealed []byte
		ad     []byte
		ok     bool
	}{
		{"as sealed", sealed, crypt.AD(crypt.ADIndex, nil), true},
		{"as a snapshot", sealed, crypt.AD(crypt.ADSnapshot, nil), false},
		{"one bit flipped", func() []byte { b := bytes.Clone(sealed); b[len(b)/2] ^= 1; return b }(), crypt.AD(crypt.ADIndex, nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain, err := o.Open(nil, tc.sealed, tc.ad)
			if !tc.ok {
				if !errors.Is(err, crypt.ErrAuth) {
					t.Fatalf("Open = %v, want ErrAuth", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f, err := Decode(plain)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f, fixture()) {
				t.Fatalf("sealed vector decodes to %+v", f)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(fixture().Encode())
	f.Add((&File{}).Encode())
	f.Add((&File{Supersedes: []blob.ID{testID("s")}}).Encode())
	f.Add(fixture().Encode()[:offPack1])
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Decode(b)
		if err != nil {
			return
		}
		if enc := file.Encode(); !bytes.Equal(enc, b) {
			t.Fatalf("Encode(Decode(b)) differs from b:\n got %x\nwant %x", enc, b)
		}
	})
}

// TestDisjoint: overlapping copies go to separate listings, each valid.
func TestDisjoint(t *testing.T) {
	at := func(off, n uint32) Blob {
		return Blob{Type: blob.Data, ID: testID(fmt.Sprint(off, n)), Offset: off, Length: n}
	}
	for _, tc := range []struct {
		name  string
		blobs []Blob
		want  int
	}{
		{"none", nil, 0},
		{"disjoint, out of order", []Blob{at(100, 50), at(0, 100)}, 1},
		{"one overlap", []Blob{at(0, 100), at(50, 100), at(150, 50)}, 2},
		{"nested three deep", []Blob{at(0, 300), at(10, 200), at(20, 100)}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Disjoint(tc.blobs)
			if len(got) != tc.want {
				t.Fatalf("%d listings, want %d: %+v", len(got), tc.want, got)
			}
			n := 0
			for _, l := range got {
				n += len(l)
				f := &File{Packs: []Pack{{ID: testID("p"), Blobs: l}}}
				if _, err := Decode(f.Encode()); err != nil {
					t.Errorf("listing %+v: %v", l, err)
				}
			}
			if n != len(tc.blobs) {
				t.Errorf("%d blobs in the listings, want %d", n, len(tc.blobs))
			}
		})
	}
}

// TestSplit: a second listing of a pack goes to another File, only the
// last File supersedes, and every File decodes.
func TestSplit(t *testing.T) {
	p := func(name string, off uint32) Pack {
		return Pack{ID: testID(name), Blobs: []Blob{{Type: blob.Data, ID: testID(name + "blob"), Offset: off, Length: 100}}}
	}
	sup := []blob.ID{testID("old")}
	for _, tc := range []struct {
		name  string
		packs []Pack
		files int
	}{
		{"nothing", nil, 0},
		{"distinct packs", []Pack{p("a", 0), p("b", 0)}, 1},
		{"two listings of one pack", []Pack{p("a", 0), p("b", 0), p("a", 100)}, 2},
		{"three listings", []Pack{p("a", 0), p("a", 100), p("a", 200)}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := Split(tc.packs, sup)
			if len(files) != tc.files {
				t.Fatalf("%d files, want %d", len(files), tc.files)
			}
			n := 0
			for i, f := range files {
				n += len(f.Packs)
				if (len(f.Supersedes) > 0) != (i == len(files)-1) {
					t.Errorf("file %d supersedes %v", i, f.Supersedes)
				}
				if _, err := Decode(f.Encode()); err != nil {
					t.Errorf("file %d: %v", i, err)
				}
			}
			if n != len(tc.packs) {
				t.Errorf("%d listings in the files, want %d", n, len(tc.packs))
			}
		})
	}
}

// TestSignedGoldenPython runs the independent check of testdata/v2.index,
// written from docs/format.md §7.1–§7.2 alone (testdata/check_v2.py).
func TestSignedGoldenPython(t *testing.T) {
	pycheck.Run(t, "testdata", "check_v2.py")
}

// TestSignedGolden: testdata/v2.index is the fixture signed (§7.2) by the
// DeviceID 0x0a × 16 of account "0123456789abcdef0123456789abcdef" with
// the Ed25519 key whose seed is 32 bytes 0x07.
func TestSignedGolden(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	const account = "0123456789abcdef0123456789abcdef"
	f := fixture()
	if err := f.Sign(account, strings.Repeat("0a", 16), key); err != nil {
		t.Fatal(err)
	}
	want := golden(t, "v2.index", f.Encode())
	dec, err := Decode(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dec.Encode(), want) || !dec.Verify(account, key.Public().(ed25519.PublicKey)) {
		t.Fatal("testdata/v2.index does not decode to a verifying signed fixture")
	}
}

package repo

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/compress"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/pack"
	"github.com/coffer-backup/coffer/internal/pycheck"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
	"github.com/coffer-backup/coffer/internal/tree"
)

var updateTreePack = flag.Bool("update", false, "rewrite the tree-pack vector in testdata/treepack*")

// The tree-pack vector (docs/format.md §6.7): the account, signer and
// signing key of its index object; the root key is the bytes 0x00..0x1f.
const (
	vecAccount = "0123456789abcdef0123456789abcdef"
	vecSigner  = "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a"
)

var vecSeed = bytes.Repeat([]byte{7}, ed25519.SeedSize)

func vecRoot() (k crypt.Key) {
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

// treePackVector describes testdata/treepack.index and the packs it lists.
type treePackVector struct {
	RootKey     string       `json:"root_key"`
	Account     string       `json:"account"`
	Signer      string       `json:"signer"`
	SigningSeed string       `json:"signing_seed"`
	Index       vectorObject `json:"index"`
	Packs       []vectorPack `json:"packs"` // in ascending order of name, as the index lists them
}

type vectorObject struct {
	File string  `json:"file"`
	Name blob.ID `json:"name"`
	Size int     `json:"size"`
}

type vectorPack struct {
	vectorObject
	Kind    string       `json:"kind"`    // "tree" or "data", by §6.7's rule
	Entries []vectorBlob `json:"entries"` // in pack order
}

type vectorBlob struct {
	Type      blob.Type `json:"type"`
	ID        blob.ID   `json:"id"`
	Offset    uint32    `json:"offset"`
	Length    uint32    `json:"length"`
	RawLength uint32    `json:"raw_length"`
	Framed    string    `json:"framed"`    // the envelope's plaintext (§3.2), hex
	Plaintext string    `json:"plaintext"` // the blob (a tree's encoding, §5.1), hex
}

// vectorTrees returns the blobs of a small snapshot: a root directory
// holding docs/ (twelve empty notes: a tree that compresses), old/ (a
// symlink) and src/ (hello.txt, one data blob). old/'s tree and the data
// blob go in a mixed pack, as written before tree packs; the other trees
// in a tree pack.
func vectorTrees(t *testing.T, h *crypt.Hasher) (treeBlobs, mixed [][]byte) {
	hello := []byte("hello, coffer\n")
	file := func(name string, size uint64, content []tree.Extent) *tree.Node {
		return &tree.Node{Name: []byte(name), Type: tree.File, Mode: 0o644, UID: 1000, GID: 100, User: "alice", Group: "users",
			MTime: 1700000000000000000, CTime: 1700000000000000000, Size: size, Inode: 1, Device: 0x803, Links: 1, Content: content}
	}
	enc := func(nodes ...*tree.Node) []byte {
		b, err := (&tree.Tree{Nodes: nodes}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var notes []*tree.Node
	for i := range 12 {
		n := file("note-"+string(rune('a'+i))+".txt", 0, nil)
		n.Inode = uint64(100 + i)
		notes = append(notes, n)
	}
	docs := enc(notes...)
	old := enc(&tree.Node{Name: []byte("latest"), Type: tree.Symlink, Mode: 0o777, UID: 1000, GID: 100, Links: 1,
		MTime: 1600000000000000000, CTime: 1600000000000000000, Inode: 2, Device: 0x803, LinkTarget: []byte("../src/hello.txt")})
	src := enc(file("hello.txt", uint64(len(hello)), []tree.Extent{{ID: h.Sum(blob.Data, hello), Length: uint64(len(hello))}}))
	dir := func(name string, sub []byte, inode uint64) *tree.Node {
		return &tree.Node{Name: []byte(name), Type: tree.Dir, Mode: 0o755, UID: 1000, GID: 100, User: "alice", Group: "users",
			MTime: 1700000000000000000, CTime: 1700000000000000000, Inode: inode, Device: 0x803, Links: 2,
			Subtrees: []blob.ID{h.Sum(blob.Tree, sub)}}
	}
	root := enc(dir("docs", docs, 10), dir("old", old, 11), dir("src", src, 12))
	return [][]byte{root, docs, src}, [][]byte{hello, old}
}

// writeTreePackVector seals the vector's packs and its signed index
// object under fresh nonces and writes them to testdata (go test -run
// TestTreePackVector -update). The test checks the committed bytes.
func writeTreePackVector(t *testing.T, r *Repo) {
	trees, mixed := vectorTrees(t, r.hasher)
	v := treePackVector{RootKey: hex.EncodeToString(r.roots[0][:]), Account: vecAccount, Signer: vecSigner,
		SigningSeed: hex.EncodeToString(vecSeed)}
	var f index.File
	for _, p := range []struct {
		file  string
		blobs [][]byte
		types []blob.Type
	}{
		{"treepack-tree.pack", trees, []blob.Type{blob.Tree, blob.Tree, blob.Tree}},
		{"treepack-mixed.pack", mixed, []blob.Type{blob.Data, blob.Tree}},
	} {
		vp, ip := sealVectorPack(t, r, p.blobs, p.types)
		vp.File = p.file
		writeFile(t, p.file, vp.bytes)
		v.Packs = append(v.Packs, vp.vectorPack)
		f.Packs = append(f.Packs, ip)
	}
	slices.SortFunc(v.Packs, func(a, b vectorPack) int { return bytes.Compare(a.Name[:], b.Name[:]) })
	if err := f.Sign(vecAccount, vecSigner, ed25519.NewKeyFromSeed(vecSeed)); err != nil {
		t.Fatal(err)
	}
	env, err := r.sealer.Seal(nil, f.Encode(), crypt.AD(crypt.ADIndex, nil))
	if err != nil {
		t.Fatal(err)
	}
	v.Index = vectorObject{File: "treepack.index", Name: crypt.ContentID(env), Size: len(env)}
	writeFile(t, v.Index.File, env)
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, "treepack.json", append(js, '\n'))
}

func writeFile(t *testing.T, name string, b []byte) {
	if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

type sealedPack struct {
	vectorPack
	bytes []byte
}

// sealVectorPack frames, seals and packs the blobs as a store's packs are.
func sealVectorPack(t *testing.T, r *Repo, blobs [][]byte, types []blob.Type) (sealedPack, index.Pack) {
	b := pack.NewBuilder()
	framed := make(map[blob.Handle][]byte)
	kind := "tree"
	for i, plain := range blobs {
		f, err := compress.Encode(nil, plain)
		if err != nil {
			t.Fatal(err)
		}
		id := r.hasher.Sum(types[i], plain)
		env, err := r.sealer.Seal(nil, f, pack.BlobAD(types[i], id))
		if err != nil {
			t.Fatal(err)
		}
		b.Add(types[i], id, env, uint32(len(plain)))
		framed[blob.Handle{Type: types[i], ID: id}] = f
		if types[i] == blob.Data {
			kind = "data"
		}
	}
	p, entries, err := b.Finish(r.sealer)
	if err != nil {
		t.Fatal(err)
	}
	sp := sealedPack{vectorPack{vectorObject: vectorObject{Name: crypt.ContentID(p), Size: len(p)}, Kind: kind}, p}
	ip := index.Pack{ID: sp.Name}
	for _, e := range entries {
		f := framed[blob.Handle{Type: e.Type, ID: e.ID}]
		plain, err := compress.Decode(nil, f, int(e.RawLength))
		if err != nil {
			t.Fatal(err)
		}
		sp.Entries = append(sp.Entries, vectorBlob{e.Type, e.ID, e.Offset, e.Length, e.RawLength,
			hex.EncodeToString(f), hex.EncodeToString(plain)})
		ip.Blobs = append(ip.Blobs, index.Blob{Type: e.Type, ID: e.ID, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength})
	}
	return sp, ip
}

// TestTreePackVector reads the committed tree-pack vector (docs/format.md
// §6.5, §6.7) as a reader of a real store does: it loads the signed index
// object, classifies each pack by §6.7's rule, and reads every blob, the
// tree pack's through the whole pack. It fails if the encoding of trees,
// packs or index objects, the sealing, or the classification changes.
func TestTreePackVector(t *testing.T) {
	st, err := local.Create(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRepo(st, Config{Version: Version, Account: vecAccount}, nil, []crypt.Key{vecRoot()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if *updateTreePack {
		writeTreePackVector(t, r)
	}
	v := readTreePackVector(t, r)
	if err := r.LoadIndex(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkVectorIndex(t, r, v)
	bytesOf := make(map[blob.ID][]byte)
	for _, p := range v.Packs {
		bytesOf[p.Name] = readVectorFile(t, p.vectorObject)
		if got, want := r.Index.TreePack(p.Name), p.Kind == "tree"; got != want {
			t.Errorf("pack %s (%s): TreePack = %v", p.File, p.Kind, got)
		}
	}
	for _, p := range v.Packs {
		for _, e := range p.Entries {
			checkVectorBlob(t, r, p, e, bytesOf[p.Name])
		}
	}
	checkVectorKinds(t, r, v)
	checkVectorSnapshot(t, r, v)
}

// readTreePackVector reads treepack.json, checks that it describes the
// committed files (names, sizes, kinds by §6.7's rule) and stores the
// index object and the packs in r's store.
func readTreePackVector(t *testing.T, r *Repo) treePackVector {
	js, err := os.ReadFile("testdata/treepack.json")
	if err != nil {
		t.Fatal(err)
	}
	var v treePackVector
	if err := json.Unmarshal(js, &v); err != nil {
		t.Fatal(err)
	}
	if v.RootKey != hex.EncodeToString(r.roots[0][:]) || v.Account != vecAccount || v.Signer != vecSigner || v.SigningSeed != hex.EncodeToString(vecSeed) {
		t.Fatal("testdata/treepack.json: keys or identities are not the test's")
	}
	putVector(t, r, store.Index, v.Index)
	for _, p := range v.Packs {
		putVector(t, r, store.Packs, p.vectorObject)
		kind := "tree"
		for _, e := range p.Entries {
			if e.Type != blob.Tree {
				kind = "data"
			}
		}
		if p.Kind != kind {
			t.Errorf("%s: kind %q, but its blobs make it a %s pack", p.File, p.Kind, kind)
		}
	}
	return v
}

// readVectorFile reads a committed object and checks its size and that it
// hashes to its name.
func readVectorFile(t *testing.T, o vectorObject) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", o.File))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != o.Size || crypt.ContentID(b) != o.Name {
		t.Fatalf("testdata/%s: %d bytes hashing to %s; treepack.json says %d and %s", o.File, len(b), crypt.ContentID(b), o.Size, o.Name)
	}
	return b
}

func putVector(t *testing.T, r *Repo, kind store.Kind, o vectorObject) {
	if err := putBytes(t.Context(), r.st, kind, o.Name.String(), readVectorFile(t, o)); err != nil {
		t.Fatal(err)
	}
}

// checkVectorIndex checks that the index object is signed as the vector
// says and lists exactly the packs' entries.
func checkVectorIndex(t *testing.T, r *Repo, v treePackVector) {
	f, err := r.LoadIndexFile(t.Context(), v.Index.Name.String())
	if err != nil {
		t.Fatal(err)
	}
	pub := ed25519.NewKeyFromSeed(vecSeed).Public().(ed25519.PublicKey)
	if f.Signer != vecSigner || !f.Verify(vecAccount, pub) || len(f.Supersedes) != 0 {
		t.Errorf("index: signer %q, verifies %v, supersedes %d", f.Signer, f.Verify(vecAccount, pub), len(f.Supersedes))
	}
	var want []index.Pack
	for _, p := range v.Packs {
		ip := index.Pack{ID: p.Name}
		for _, e := range p.Entries {
			ip.Blobs = append(ip.Blobs, index.Blob{Type: e.Type, ID: e.ID, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength})
		}
		want = append(want, ip)
	}
	if !slices.EqualFunc(f.Packs, want, func(a, b index.Pack) bool { return a.ID == b.ID && slices.Equal(a.Blobs, b.Blobs) }) {
		t.Errorf("index lists\n %+v\nwant\n %+v", f.Packs, want)
	}
}

// checkVectorBlob checks one entry: its frame and ID, its envelope opened
// from the whole pack's bytes at the index's offset, and its read through
// the repository (through the whole pack for a tree pack's trees).
func checkVectorBlob(t *testing.T, r *Repo, p vectorPack, e vectorBlob, whole []byte) {
	framed, err1 := hex.DecodeString(e.Framed)
	plain, err2 := hex.DecodeString(e.Plaintext)
	if err1 != nil || err2 != nil {
		t.Fatalf("%s %s: bad hex", p.File, e.ID.Short())
	}
	if got, err := compress.Decode(nil, framed, int(e.RawLength)); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("%s %s: the frame does not decode to the plaintext (%v)", p.File, e.ID.Short(), err)
	}
	if r.hasher.Sum(e.Type, plain) != e.ID {
		t.Errorf("%s %s: ID is not the keyed hash of the plaintext", p.File, e.ID.Short())
	}
	env := whole[e.Offset : e.Offset+e.Length]
	if got, err := r.OpenBlob(nil, e.Type, e.ID, env, int(e.RawLength)); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("%s %s: opening from the whole pack: %v", p.File, e.ID.Short(), err)
	}
	loc := index.Location{Pack: p.Name, Type: e.Type, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength}
	if !slices.Contains(r.Index.Copies(e.ID), loc) {
		t.Errorf("%s %s: not indexed at %+v", p.File, e.ID.Short(), loc)
	}
	if got, want := r.wholeTreePack(e.Type, loc), p.Kind == "tree"; got != want {
		t.Errorf("%s %s: read through the whole pack = %v, want %v", p.File, e.ID.Short(), got, want)
	}
	if got, err := r.LoadBlob(t.Context(), e.Type, e.ID, nil); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("%s %s: LoadBlob: %v", p.File, e.ID.Short(), err)
	}
}

// checkVectorKinds checks that the vector has what §6.5 says it has: one
// tree pack with a zstd and a raw frame, kept whole after the reads above,
// and one mixed pack, read by ranges.
func checkVectorKinds(t *testing.T, r *Repo, v treePackVector) {
	kinds := make(map[string]int)
	for _, p := range v.Packs {
		kinds[p.Kind]++
		markers := make(map[byte]bool)
		for _, e := range p.Entries {
			markers[e.Framed[1]] = true // the low hex digit of the frame marker
		}
		_, kept := r.trees.entries[p.Name]
		if p.Kind == "tree" && (!markers['0'] || !markers['1'] || !kept) {
			t.Errorf("tree pack %s: frame markers %v, kept whole %v", p.File, markers, kept)
		}
		if p.Kind == "data" && kept {
			t.Errorf("data pack %s was read whole", p.File)
		}
	}
	if kinds["tree"] != 1 || kinds["data"] != 1 {
		t.Errorf("the vector should hold one tree pack and one data pack: %v", kinds)
	}
}

// checkVectorSnapshot checks that the trees are real: each decodes and
// re-encodes to itself, and every subtree and extent they name is a blob
// of the vector.
func checkVectorSnapshot(t *testing.T, r *Repo, v treePackVector) {
	have := make(map[blob.Handle]bool)
	var trees [][]byte
	for _, p := range v.Packs {
		for _, e := range p.Entries {
			have[blob.Handle{Type: e.Type, ID: e.ID}] = true
			if e.Type == blob.Tree {
				b, _ := hex.DecodeString(e.Plaintext)
				trees = append(trees, b)
			}
		}
	}
	for _, b := range trees {
		tr, err := tree.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := tr.Encode(); err != nil || !bytes.Equal(again, b) {
			t.Errorf("a tree does not re-encode to itself (%v)", err)
		}
		for _, n := range tr.Nodes {
			for _, id := range n.Subtrees {
				if !have[blob.Handle{Type: blob.Tree, ID: id}] {
					t.Errorf("%q: subtree %s is not in the vector", n.Name, id.Short())
				}
			}
			for _, x := range n.Content {
				if !have[blob.Handle{Type: blob.Data, ID: x.ID}] {
					t.Errorf("%q: extent %s is not in the vector", n.Name, x.ID.Short())
				}
			}
		}
	}
}

// TestTreePackVectorPython runs the independent reader of the vector,
// written from docs/format.md alone (testdata/check_treepack.py).
func TestTreePackVectorPython(t *testing.T) {
	pycheck.Run(t, ".", "testdata/check_treepack.py")
}

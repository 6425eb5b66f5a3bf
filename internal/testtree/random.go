//go:build linux

package testtree

import (
	"math/rand/v2"
	"os"
	"path"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/tree"
)

// Options shape a random tree. Zero fields take the defaults given.
type Options struct {
	Entries  int   // items, 200 by default
	MaxDepth int   // deepest directory level, 6 by default
	MaxSize  int   // largest data written to one file, 64 KiB by default
	MaxHoles int64 // largest apparent size of a sparse file, 4 MiB by default
	// Privileged adds what only root may make: other owners, device nodes
	// and trusted.* attributes (also on symbolic links and special files),
	// and any permission bits. Random ignores it unless the process is root.
	Privileged bool
}

func (o *Options) defaults() {
	if o.Entries <= 0 {
		o.Entries = 200
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 6
	}
	if o.MaxSize <= 0 {
		o.MaxSize = 64 << 10
	}
	if o.MaxHoles <= 0 {
		o.MaxHoles = 4 << 20
	}
}

// Random builds a random tree below dir and returns its spec. The same seed
// and options give the same spec for processes with the same privilege.
// Trees hold directories (some empty), regular files of all sizes with
// random or compressible content, sparse files, hard links within and across
// directories, symbolic links (relative, absolute, dangling, to directories,
// with odd bytes), fifos and sockets; names of arbitrary bytes, up to 255
// long; any permission bits including setuid, setgid and sticky; times
// before 1970 and after 2038 with nanoseconds; and user.* attributes with
// binary values.
func Random(t testing.TB, dir string, seed uint64, opts Options) Spec {
	t.Helper()
	spec := Generate(seed, opts, opts.Privileged && os.Geteuid() == 0)
	Build(t, dir, spec)
	return spec
}

// Generate returns the spec Random builds; privileged says whether it may
// hold what only root may make.
func Generate(seed uint64, opts Options, privileged bool) Spec {
	opts.defaults()
	g := &gen{
		rng:  rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		opts: opts, priv: privileged,
		dirs: []string{""}, used: map[string]bool{},
	}
	g.spec = append(g.spec, Entry{Path: "", Type: tree.Dir, Mode: g.dirMode(), MTime: g.mtime()})
	for range opts.Entries {
		g.add()
	}
	return g.spec
}

type gen struct {
	rng   *rand.Rand
	opts  Options
	priv  bool
	spec  Spec
	dirs  []string // directories, "" the root
	files []string // regular files, which hard links may name
	used  map[string]bool
}

// kinds are the item kinds with their weights.
var kinds = []struct {
	weight int
	add    func(*gen, string)
}{
	{15, (*gen).dir},
	{45, (*gen).file},
	{5, (*gen).sparse},
	{12, (*gen).symlink},
	{10, (*gen).hardlink},
	{5, (*gen).fifo},
	{1, (*gen).socket},
	{4, (*gen).device},
}

func (g *gen) add() {
	parent := g.dirs[g.rng.IntN(len(g.dirs))]
	p := g.newName(parent)
	n := 0
	for _, k := range kinds {
		n += k.weight
	}
	n = g.rng.IntN(n)
	for _, k := range kinds {
		if n -= k.weight; n < 0 {
			k.add(g, p)
			return
		}
	}
}

// newName returns an unused path for a new entry of parent.
func (g *gen) newName(parent string) string {
	for {
		p := path.Join(parent, g.name())
		if !g.used[p] {
			g.used[p] = true
			return p
		}
	}
}

// oddNames are names that trip careless code.
var oddNames = []string{
	"-rf", "--", "-", " ", "  lead and trail  ", "new\nline", "back\\slash", "tab\there",
	"\xff\xfe", "\x80", "\x01\x7f", "*", "?", "[a-z]", "{a,b}", "~", "$HOME", "%s%n", "'\"`",
	"ünïcödé", "日本語", "🙂", "e\u0301", "\u202eRTL", ".hidden", "...", ". .", "CON", "a:b",
	strings.Repeat("L", 255), strings.Repeat("é", 127),
}

func (g *gen) name() string {
	switch g.rng.IntN(10) {
	case 0, 1:
		return oddNames[g.rng.IntN(len(oddNames))]
	case 2, 3: // arbitrary bytes but '/' and NUL
		b := make([]byte, 1+g.rng.IntN(24))
		for i := range b {
			b[i] = byte(1 + g.rng.IntN(255))
			if b[i] == '/' {
				b[i] = '_'
			}
		}
		if s := string(b); tree.ValidName(b) {
			return s
		}
		return "x"
	}
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789._-"
	b := make([]byte, 1+g.rng.IntN(12))
	for i := range b {
		b[i] = letters[g.rng.IntN(len(letters))]
	}
	if !tree.ValidName(b) {
		return "n"
	}
	return string(b)
}

func (g *gen) mtime() int64 {
	const lo, hi = -2_000_000_000, 12_000_000_000 // 1906 to 2350
	return (lo+g.rng.Int64N(hi-lo))*1e9 + g.rng.Int64N(1e9)
}

// mode returns permission bits; unprivileged trees keep the owner's rwx so
// the tree can be read, restored and removed.
func (g *gen) mode(usual uint32, keep uint32) uint32 {
	var m uint32
	switch g.rng.IntN(4) {
	case 0:
		m = g.rng.Uint32() & 0o7777
	case 1:
		m = []uint32{0o4755, 0o2755, 0o6711, 0o1777, 0o1644, 0o0, 0o777, 0o400}[g.rng.IntN(8)]
	default:
		m = usual
	}
	if !g.priv {
		m |= keep
		m &^= 0o2000 // setgid on a file of a group one is not in is dropped
	}
	if m == 0 {
		return ModeNone
	}
	return m
}

func (g *gen) dirMode() uint32 { return g.mode(0o755, 0o700) }

func (g *gen) owner() *Owner {
	if !g.priv || g.rng.IntN(2) == 0 {
		return nil
	}
	ids := []uint32{0, 1, 1000, 65534, 123456, 4000000000}
	return &Owner{ids[g.rng.IntN(len(ids))], ids[g.rng.IntN(len(ids))]}
}

// xattrs returns random attributes; user.* only where the kernel allows it,
// on regular files and directories.
func (g *gen) xattrs(userOK bool) map[string][]byte {
	if g.rng.IntN(4) != 0 {
		return nil
	}
	var spaces []string
	if userOK {
		spaces = append(spaces, "user.")
	}
	if g.priv {
		spaces = append(spaces, "trusted.")
	}
	if len(spaces) == 0 {
		return nil
	}
	m := map[string][]byte{}
	for range 1 + g.rng.IntN(3) {
		v := make([]byte, g.rng.IntN(300))
		for i := range v {
			v[i] = byte(g.rng.Uint32())
		}
		name := g.name() // attribute names are at most 255 bytes with the prefix
		m[spaces[g.rng.IntN(len(spaces))]+name[:min(len(name), 200)]] = v
	}
	return m
}

func (g *gen) entry(p string, typ tree.NodeType) Entry {
	userOK := typ == tree.File || typ == tree.Dir
	e := Entry{Path: p, Type: typ, Owner: g.owner(), MTime: g.mtime(), Xattrs: g.xattrs(userOK)}
	if typ != tree.Symlink {
		e.Mode = g.mode(0o644, 0o600)
	}
	return e
}

func (g *gen) dir(p string) {
	if strings.Count(p, "/")+1 >= g.opts.MaxDepth {
		g.file(p)
		return
	}
	e := g.entry(p, tree.Dir)
	e.Mode = g.dirMode()
	g.spec = append(g.spec, e)
	g.dirs = append(g.dirs, p)
}

func (g *gen) data(n int) []byte {
	b := make([]byte, n)
	if g.rng.IntN(2) == 0 {
		for i := range b {
			b[i] = byte(g.rng.Uint32())
		}
		return b
	}
	word := []byte("compressible text, over and over. ")
	for i := range b {
		b[i] = word[i%len(word)]
	}
	return b
}

func (g *gen) file(p string) {
	sizes := []int{0, 1, 100, 4096, g.rng.IntN(4096), g.rng.IntN(g.opts.MaxSize + 1)}
	e := g.entry(p, tree.File)
	e.Data = g.data(sizes[g.rng.IntN(len(sizes))])
	g.spec = append(g.spec, e)
	g.files = append(g.files, p)
}

// sparse adds a file with a few data islands in holes, some at block
// boundaries, some not, and maybe a hole at its end.
func (g *gen) sparse(p string) {
	e := g.entry(p, tree.File)
	e.Size = 1 + g.rng.Int64N(g.opts.MaxHoles)
	for range g.rng.IntN(4) {
		off := g.rng.Int64N(e.Size)
		if g.rng.IntN(2) == 0 {
			off &^= 4095
		}
		e.Islands = append(e.Islands, Island{off, g.data(1 + g.rng.IntN(3*4096))})
	}
	g.spec = append(g.spec, e)
	g.files = append(g.files, p)
}

func (g *gen) symlink(p string) {
	e := g.entry(p, tree.Symlink)
	targets := []func() string{
		func() string { return "nowhere/" + g.name() },                           // dangling
		func() string { return "/" + g.dirs[g.rng.IntN(len(g.dirs))] },           // absolute
		func() string { return ".." },                                            // a directory
		func() string { return strings.Repeat("../", g.rng.IntN(4)) + g.name() }, // relative, maybe escaping
		func() string { return string(g.data(1 + g.rng.IntN(200))) },             // odd bytes, NUL-free below
		func() string { return strings.Repeat("long/", 400) },                    // 2000 bytes
	}
	if len(g.files) > 0 {
		targets = append(targets, func() string { return "/" + g.files[g.rng.IntN(len(g.files))] })
	}
	e.Target = strings.ReplaceAll(targets[g.rng.IntN(len(targets))](), "\x00", "0")
	g.spec = append(g.spec, e)
}

func (g *gen) hardlink(p string) {
	if len(g.files) == 0 {
		g.file(p)
		return
	}
	g.spec = append(g.spec, Entry{Path: p, Type: tree.File, Link: g.files[g.rng.IntN(len(g.files))]})
}

func (g *gen) fifo(p string) { g.spec = append(g.spec, g.entry(p, tree.Fifo)) }

func (g *gen) socket(p string) { g.spec = append(g.spec, g.entry(p, tree.Socket)) }

func (g *gen) device(p string) {
	if !g.priv {
		g.fifo(p)
		return
	}
	e := g.entry(p, []tree.NodeType{tree.CharDev, tree.BlockDev}[g.rng.IntN(2)])
	e.Rdev = unix.Mkdev(uint32(g.rng.IntN(4096)), uint32(g.rng.IntN(1<<20)))
	g.spec = append(g.spec, e)
}

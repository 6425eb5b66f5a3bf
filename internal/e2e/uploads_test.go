package e2e

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/store/storetest"
)

// packGate is a reverse proxy in front of a server that holds every pack
// upload for a while before passing it on, and counts the pack uploads in
// flight.
type packGate struct {
	proxy  *httputil.ReverseProxy
	hold   time.Duration
	flight storetest.Gauge
}

func (g *packGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/v1/objects/packs/") {
		g.proxy.ServeHTTP(w, r)
		return
	}
	defer g.flight.Enter()()
	time.Sleep(g.hold)
	g.proxy.ServeHTTP(w, r)
}

// TestServerPacksInFlight checks the bound that keeps a first backup
// through a server within the memory of a backup to a directory (issue
// 10): however slowly the server takes packs, the client uploads at most
// two at a time (repo.SetUploads' default), since each pack in flight is a
// pack's worth of memory.
func TestServerPacksInFlight(t *testing.T) {
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", "--insecure-http")
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	gate := &packGate{proxy: httputil.NewSingleHostReverseProxy(target), hold: 400 * time.Millisecond}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: gate, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	u := newUser(t, "alice")
	storeURL := "http://" + ln.Addr().String()
	u.run(t, "init", "--store", storeURL)
	src := filepath.Join(t.TempDir(), "src")
	sizes := make([]int, 13) // 52 MiB of random data: three full data packs and a partial one
	for i := range sizes {
		sizes[i] = 4 << 20
	}
	writeTree(t, src, 7, sizes...)
	u.run(t, "backup", src)

	if _, most, packs := gate.flight.Counts(); packs < 4 || most != 2 {
		t.Errorf("%d pack uploads, at most %d at once; want at least 4, two at a time", packs, most)
	}
}

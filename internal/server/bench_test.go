package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkObjects16MiB measures PUT and GET of 16 MiB packs through a real
// TLS listener on loopback, with the pinned HTTP/2 client of TestTLS.
func BenchmarkObjects16MiB(b *testing.B) {
	e := newServer(b, func(c *Config) { c.InsecureHTTP = false })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln := listen(b)
	serve(e.s, ctx, ln)
	base, pin, _ := strings.Cut(e.s.URL(ln.Addr()), "#sha256=")
	e.url, e.client = base, pinnedClient(pin)
	a := e.newAccount(1)
	data, _ := content(1, 16<<20)
	var names []string
	b.Run("put", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for i := 0; b.Loop(); i++ {
			binary.BigEndian.PutUint64(data, uint64(i)) // a new object each time
			name := sha(data)
			e.put(a.token, "packs", data, name, 201)
			names = append(names, name)
		}
	})
	b.Run("get", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for i := 0; b.Loop(); i++ {
			r, err := http.NewRequest("GET", e.url+"/v1/objects/packs/"+names[i%len(names)], nil)
			if err != nil {
				b.Fatal(err)
			}
			r.Header.Set("Authorization", "Bearer "+a.token)
			res, err := e.client.Do(r)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if err != nil || n != int64(len(data)) {
				b.Fatal(fmt.Sprint(n, err))
			}
		}
	})
}

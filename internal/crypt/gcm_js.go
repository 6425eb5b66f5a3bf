//go:build js && wasm

package crypt

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"sync"
	"syscall/js"

	"github.com/coffer-backup/coffer/internal/blob"
)

// webMin is the smallest ciphertext opened by WebCrypto: below it the
// promise's round trip costs more than Go's slower AES in WebAssembly.
const webMin = 16 << 10

// newGCM returns, in the web app's WebAssembly (docs/web.md), AES-256-GCM
// that opens large envelopes with the browser's WebCrypto, several times
// faster than Go's AES compiled to WebAssembly, under a key imported as
// non-extractable, so no script can read it back from the CryptoKey; the
// construction (docs/format.md §2.2) is the same, and small envelopes
// and sealing use Go's. Open must be called from a goroutine other than
// a JavaScript callback's: it waits for the promise.
func newGCM(key []byte) (cipher.AEAD, error) {
	g, err := goGCM(key)
	if err != nil {
		return nil, err
	}
	subtle := js.Global().Get("crypto").Get("subtle")
	if subtle.IsUndefined() {
		return g, nil
	}
	raw := js.Global().Get("Uint8Array").New(len(key))
	js.CopyBytesToJS(raw, key)
	alg := map[string]any{"name": "AES-GCM"}
	p := subtle.Call("importKey", "raw", raw, js.ValueOf(alg), false, js.ValueOf([]any{"decrypt"}))
	js.CopyBytesToJS(raw, make([]byte, len(key))) // importKey copied the key already
	return &webGCM{AEAD: g, key: p}, nil
}

// webGCM is Go's AEAD but for the Open of large envelopes.
type webGCM struct {
	cipher.AEAD
	once   sync.Once
	key    js.Value // the importKey promise, then the CryptoKey
	keyErr error
}

func (w *webGCM) Open(dst, nonce, ct, ad []byte) ([]byte, error) {
	if len(ct) < webMin {
		return w.AEAD.Open(dst, nonce, ct, ad)
	}
	w.once.Do(func() { w.key, w.keyErr = await(w.key) })
	if w.keyErr != nil {
		return w.AEAD.Open(dst, nonce, ct, ad)
	}
	params := map[string]any{"name": "AES-GCM", "iv": bytesToJS(nonce), "additionalData": bytesToJS(ad), "tagLength": 128}
	out, err := await(js.Global().Get("crypto").Get("subtle").Call("decrypt", js.ValueOf(params), w.key, bytesToJS(ct)))
	if err != nil {
		return nil, errors.New("cipher: message authentication failed")
	}
	pt := js.Global().Get("Uint8Array").New(out)
	n := pt.Length()
	ret, tail := sliceForAppend(dst, n)
	js.CopyBytesToGo(tail, pt)
	return ret, nil
}

func bytesToJS(b []byte) js.Value {
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

// sliceForAppend extends dst by n bytes, as crypto/cipher does.
func sliceForAppend(dst []byte, n int) (head, tail []byte) {
	if total := len(dst) + n; cap(dst) >= total {
		head = dst[:total]
	} else {
		head = make([]byte, total)
		copy(head, dst)
	}
	return head, head[len(dst):]
}

// await waits for a promise.
func await(p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	then := js.FuncOf(func(_ js.Value, a []js.Value) any { ch <- result{v: a[0]}; return nil })
	catch := js.FuncOf(func(_ js.Value, a []js.Value) any {
		ch <- result{err: fmt.Errorf("webcrypto: %s", a[0].Call("toString").String())}
		return nil
	})
	defer then.Release()
	defer catch.Release()
	p.Call("then", then, catch)
	r := <-ch
	return r.v, r.err
}

// webHMAC computes large blob IDs (HMAC-SHA-256, docs/format.md §3) with
// WebCrypto, under the ID key imported non-extractable: Go's SHA-256 in
// WebAssembly is the slowest step of a download.
type webHMAC struct {
	once  *sync.Once
	key   *js.Value
	ok    *bool
	start func() (js.Value, error)
}

func newWebHMAC(key *Key) webHMAC {
	subtle := js.Global().Get("crypto").Get("subtle")
	if subtle.IsUndefined() {
		return webHMAC{}
	}
	raw := bytesToJS(key[:])
	alg := map[string]any{"name": "HMAC", "hash": "SHA-256"}
	p := subtle.Call("importKey", "raw", raw, js.ValueOf(alg), false, js.ValueOf([]any{"sign"}))
	js.CopyBytesToJS(raw, make([]byte, len(key)))
	w := webHMAC{once: new(sync.Once), key: new(js.Value), ok: new(bool)}
	w.start = func() (js.Value, error) { return await(p) }
	return w
}

func (w webHMAC) sum(t blob.Type, plaintext []byte) (blob.ID, bool) {
	if w.once == nil || len(plaintext) < webMin {
		return blob.ID{}, false
	}
	w.once.Do(func() {
		k, err := w.start()
		*w.key, *w.ok = k, err == nil
	})
	if !*w.ok {
		return blob.ID{}, false
	}
	msg := js.Global().Get("Uint8Array").New(1 + len(plaintext))
	msg.SetIndex(0, int(t))
	js.CopyBytesToJS(msg.Call("subarray", 1), plaintext)
	mac, err := await(js.Global().Get("crypto").Get("subtle").Call("sign", "HMAC", *w.key, msg))
	if err != nil {
		return blob.ID{}, false
	}
	var id blob.ID
	js.CopyBytesToGo(id[:], js.Global().Get("Uint8Array").New(mac))
	return id, true
}

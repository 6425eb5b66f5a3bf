//go:build !js

package crypt

import (
	"crypto/cipher"

	"github.com/coffer-backup/coffer/internal/blob"
)

// newGCM returns AES-256-GCM under key (docs/format.md §2.2).
func newGCM(key []byte) (cipher.AEAD, error) { return goGCM(key) }

// webHMAC is nothing outside a browser.
type webHMAC struct{}

func newWebHMAC(*Key) webHMAC { return webHMAC{} }

func (webHMAC) sum(blob.Type, []byte) (blob.ID, bool) { return blob.ID{}, false }

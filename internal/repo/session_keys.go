package repo

import "github.com/coffer-backup/coffer/internal/crypt"

// ReadKeys is what reading a repository needs and nothing more: the data
// key of every epoch, the blob-ID key and the configuration MAC key. It
// holds no root key, no chunker gear key and no device key, so whoever
// holds it can decrypt and authenticate what the repository stores but
// cannot derive anything else (docs/web.md, Protocol: the grant).
type ReadKeys struct {
	Data []crypt.Key // Data[e] is the data key of epoch e
	ID   crypt.Key
	Conf crypt.Key
}

// Zero overwrites the keys.
func (k *ReadKeys) Zero() {
	for i := range k.Data {
		k.Data[i].Zero()
	}
	k.ID.Zero()
	k.Conf.Zero()
}

// ReadKeys returns copies of the read keys of epochs 0 to the current
// one, for a browser session's grant. The caller zeroes them.
func (r *Repo) ReadKeys() (*ReadKeys, error) {
	r.epochMu.Lock()
	defer r.epochMu.Unlock()
	k := &ReadKeys{Data: make([]crypt.Key, len(r.roots)), ID: r.keys.ID, Conf: r.keys.Conf}
	for i := range r.roots {
		d, err := dataKey(&r.roots[i])
		if err != nil {
			k.Zero()
			return nil, err
		}
		k.Data[i] = *d
		d.Zero()
	}
	return k, nil
}

package repo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/store"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// SaveObject seals plaintext with the associated-data label of its kind and
// stores it under the SHA-256 of the sealed bytes (docs/format.md §4). It
// returns that name.
func (r *Repo) SaveObject(ctx context.Context, kind store.Kind, adLabel string, plaintext []byte) (blob.ID, error) {
	id, env, err := r.SealObject(adLabel, plaintext)
	if err != nil {
		return blob.ID{}, err
	}
	return id, putBytes(ctx, r.st, kind, id.String(), env)
}

// SealObject seals plaintext as SaveObject does and returns its name and
// bytes without storing them.
func (r *Repo) SealObject(adLabel string, plaintext []byte) (blob.ID, []byte, error) {
	if err := r.writable(); err != nil {
		return blob.ID{}, nil, err
	}
	env, err := r.sealer.Seal(nil, plaintext, crypt.AD(adLabel, nil))
	if err != nil {
		return blob.ID{}, nil, err
	}
	return crypt.ContentID(env), env, nil
}

// LoadObject reads kind/name, checks that its bytes hash to its name, and
// opens it with the associated-data label of its kind. Objects larger than
// limit plaintext bytes are refused before they are read in full.
func (r *Repo) LoadObject(ctx context.Context, kind store.Kind, name string, adLabel string, limit int64) ([]byte, error) {
	want, err := blob.ParseID(name)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", kind, name, err)
	}
	env, err := store.ReadAll(ctx, r.st, kind, name, limit+crypt.Overhead)
	if err != nil {
		return nil, err
	}
	if crypt.ContentID(env) != want {
		return nil, fmt.Errorf("%s/%s: content does not match its name (altered or swapped)", kind, name)
	}
	pt, err := r.opener.Open(nil, env, crypt.AD(adLabel, nil))
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", kind, name, err)
	}
	return pt, nil
}

// Names lists the names of every object of a kind.
func (r *Repo) Names(ctx context.Context, kind store.Kind) ([]string, error) {
	var names []string
	err := r.st.List(ctx, kind, func(oi store.ObjectInfo) error {
		names = append(names, oi.Name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", kind, err)
	}
	return names, nil
}

// forEachParallel runs fn for every name with a few workers and returns the
// first error.
func forEachParallel(names []string, workers int, fn func(string) error) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan string)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				if err := fn(n); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, n := range names {
		next <- n
	}
	close(next)
	wg.Wait()
	return firstErr
}

package metatest

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/server/meta"
)

// publish stores p through Publish and returns the publication fn saw.
func publish(t *testing.T, db meta.DB, p *meta.Publication) meta.Publication {
	t.Helper()
	var saw meta.Publication
	must(t, db.Publish(ctx, func(_ context.Context, stored meta.Publication) (*meta.Publication, error) {
		saw = stored
		return p, nil
	}))
	return saw
}

// testPublish checks that a stored checkpoint is replaced only by one of a
// tree at least as large, that witness sizes are kept per witness, and
// that another handle sees what one stored.
func testPublish(t *testing.T, f *fixture) {
	db, other := f.open(t), f.open(t)
	_, _, err := db.Checkpoint(ctx)
	wantErr(t, "no checkpoint", err, meta.ErrNotFound)
	if saw := publish(t, db, nil); saw.Note != nil || saw.Size != 0 || len(saw.Witnesses) != 0 {
		t.Errorf("empty database: stored publication %+v", saw)
	}
	witnesses := map[string]uint64{}
	for i, tc := range []struct {
		size uint64
		note string
		w    map[string]uint64
		want uint64
	}{
		{0, "zero", nil, 0}, {5, "five", map[string]uint64{"w1": 5}, 5}, {3, "three", nil, 5},
		{5, "five again", map[string]uint64{"w2": 3}, 5}, {7, "seven", map[string]uint64{"w1": 7}, 7},
	} {
		at := t0.Add(time.Duration(i) * time.Minute)
		publish(t, db, &meta.Publication{Size: tc.size, Note: []byte(tc.note), At: at, Witnesses: tc.w})
		maps.Copy(witnesses, tc.w)
		size, note, err := other.Checkpoint(ctx)
		must(t, err)
		if size != tc.want || tc.size == tc.want && string(note) != tc.note {
			t.Errorf("after storing %d: %d %q", tc.size, size, note)
		}
		saw := publish(t, other, nil)
		if saw.Size != size || string(saw.Note) != string(note) || !maps.Equal(saw.Witnesses, witnesses) ||
			tc.size == tc.want && !saw.At.Equal(at) {
			t.Errorf("after storing %d: publication %d %q at %v, witnesses %v; want witnesses %v", tc.size, saw.Size, saw.Note, saw.At, saw.Witnesses, witnesses)
		}
	}
	errFn := errors.New("fn failed")
	err = db.Publish(ctx, func(context.Context, meta.Publication) (*meta.Publication, error) {
		return &meta.Publication{Size: 9, Note: []byte("nine")}, errFn
	})
	wantErr(t, "fn failing", err, errFn)
	if size, _, _ := db.Checkpoint(ctx); size != 7 {
		t.Errorf("a failed publication stored a checkpoint of %d leaves", size)
	}
}

// testPublishOneAtATime runs publishers on two handles at once: one at a
// time holds the right, each sees what the one before stored, and one
// whose context ends while it waits gives up without publishing.
func testPublishOneAtATime(t *testing.T, f *fixture) {
	dbs := [2]meta.DB{f.open(t), f.open(t)}
	const n = 12
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := dbs[i%2].Publish(ctx, func(_ context.Context, stored meta.Publication) (*meta.Publication, error) {
				if k := inside.Add(1); k > most.Load() {
					most.Store(k)
				}
				defer inside.Add(-1)
				time.Sleep(5 * time.Millisecond)
				return &meta.Publication{Size: stored.Size + 1, Note: []byte("n")}, nil
			})
			must(t, err)
		})
	}
	wg.Wait()
	if size, _, err := dbs[0].Checkpoint(ctx); err != nil || size != n || most.Load() != 1 {
		t.Errorf("%d publishers: size %d (%v), at most %d at once; want %d, 1", n, size, err, most.Load(), n)
	}
	testPublishGivesUp(t, dbs)
}

// testPublishGivesUp checks that a publisher waiting for the right stops
// when its context ends, while the holder's publication completes.
func testPublishGivesUp(t *testing.T, dbs [2]meta.DB) {
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- dbs[0].Publish(ctx, func(_ context.Context, p meta.Publication) (*meta.Publication, error) {
			close(held)
			<-release
			return &meta.Publication{Size: p.Size + 1, Note: []byte("holder")}, nil
		})
	}()
	<-held
	wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err := dbs[1].Publish(wctx, func(context.Context, meta.Publication) (*meta.Publication, error) {
		t.Error("published while another held the right")
		return nil, nil
	})
	if err == nil {
		t.Error("a waiting publisher did not give up when its context ended")
	}
	close(release)
	must(t, <-done)
	if _, note, err := dbs[1].Checkpoint(ctx); err != nil || string(note) != "holder" {
		t.Errorf("checkpoint %q, %v; want the holder's", note, err)
	}
}

// testLogKey checks that the first log key recorded is the only one any
// handle accepts.
func testLogKey(t *testing.T, f *fixture) {
	db, other := f.open(t), f.open(t)
	must(t, db.BindLogKey(ctx, "log.test+01234567+AAAA"))
	must(t, other.BindLogKey(ctx, "log.test+01234567+AAAA"))
	wantErr(t, "another key", other.BindLogKey(ctx, "log.test+89abcdef+BBBB"), meta.ErrConflict)
	wantErr(t, "another key again", db.BindLogKey(ctx, "other+89abcdef+BBBB"), meta.ErrConflict)
}

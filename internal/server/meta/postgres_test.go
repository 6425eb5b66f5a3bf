package meta_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/meta/pgtest"
)

// TestPostgresStartTogether opens many handles on an empty database at
// once, as instances starting together do: they make one schema, and of
// racing log keys exactly one is recorded.
func TestPostgresStartTogether(t *testing.T) {
	url := pgtest.URL(t)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			db, err := meta.OpenPostgres(ctx, url)
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			errs[i] = db.BindLogKey(ctx, []string{"log.test+00000001+AAAA", "log.test+00000002+BBBB"}[i%2])
		})
	}
	wg.Wait()
	bound := 0
	for i, err := range errs {
		switch {
		case err == nil:
			bound |= 1 << (i % 2)
		case !errors.Is(err, meta.ErrConflict):
			t.Errorf("instance %d: %v", i, err)
		}
	}
	if bound != 1 && bound != 2 {
		t.Errorf("keys accepted: %b, want exactly one of the two", bound)
	}
}

// TestPostgresNewerSchema checks that a database of a newer schema is
// refused.
func TestPostgresNewerSchema(t *testing.T) {
	url := pgtest.URL(t)
	db, err := meta.OpenPostgres(ctx, url)
	must(t, err)
	db.Close()
	conn := connect(t, url)
	_, err = conn.Exec(ctx, "UPDATE coffer_schema SET version = 99")
	must(t, err)
	if db, err := meta.OpenPostgres(ctx, url); err == nil {
		db.Close()
		t.Error("opened a database of schema version 99")
	}
	if _, err := meta.OpenPostgres(ctx, "postgres://%zz"); err == nil {
		t.Error("accepted a bad URL")
	}
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	must(t, err)
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

// publishNote publishes a checkpoint note of size 1 through db, waiting
// at most wait for the right.
func publishNote(db meta.DB, wait time.Duration, note string) error {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return db.Publish(wctx, func(context.Context, meta.Publication) (*meta.Publication, error) {
		return &meta.Publication{Size: 1, Note: []byte(note), At: time.Now()}, nil
	})
}

// TestPostgresBrokenConnection holds the right to publish in a session
// whose socket then closes under it, as when its process dies: the right
// passes to another instance.
func TestPostgresBrokenConnection(t *testing.T) {
	url := pgtest.URL(t)
	db, err := meta.OpenPostgres(ctx, url)
	must(t, err)
	defer db.Close()
	conn := connect(t, url)
	tx, err := conn.Begin(ctx)
	must(t, err)
	_, err = tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", meta.LockPublish)
	must(t, err)
	if err := publishNote(db, 200*time.Millisecond, "while held"); err == nil {
		t.Fatal("published while another session held the right")
	}
	must(t, conn.PgConn().Conn().Close()) // the process dies: its socket closes
	start := time.Now()
	must(t, publishNote(db, 10*time.Second, "after"))
	t.Logf("the right passed %v after the holder's connection closed", time.Since(start).Round(time.Millisecond))
}

// TestPostgresFrozenPublisher holds the right in a publisher that stops
// (as a frozen process): PostgreSQL ends its session once it has been idle
// in the transaction for idle_in_transaction_session_timeout, another
// instance publishes, and the frozen one's late publication is not stored.
func TestPostgresFrozenPublisher(t *testing.T) {
	url := pgtest.URL(t) + "&idle_in_transaction_session_timeout=300"
	frozen, err := meta.OpenPostgres(ctx, url)
	must(t, err)
	defer frozen.Close()
	other, err := meta.OpenPostgres(ctx, url)
	must(t, err)
	defer other.Close()
	held := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- frozen.Publish(ctx, func(context.Context, meta.Publication) (*meta.Publication, error) {
			close(held)
			time.Sleep(1500 * time.Millisecond)
			return &meta.Publication{Size: 1, Note: []byte("late")}, nil
		})
	}()
	<-held
	must(t, publishNote(other, 10*time.Second, "fresh"))
	if err := <-done; err == nil {
		t.Error("the frozen publisher's late publication succeeded")
	}
	if _, note, err := other.Checkpoint(ctx); err != nil || string(note) != "fresh" {
		t.Errorf("checkpoint %q, %v; want the live publisher's", note, err)
	}
}

// envHoldURL, set for a child of TestPostgresKillPublisher, is the
// database in which TestPostgresHoldPublish holds the right to publish.
const envHoldURL = "COFFER_TEST_HOLD_PUBLISH"

// TestPostgresHoldPublish is not a test of its own: in a child process it
// takes the right to publish, says so on stdout, and waits to be killed.
func TestPostgresHoldPublish(t *testing.T) {
	url := os.Getenv(envHoldURL)
	if url == "" {
		t.Skip("run by TestPostgresKillPublisher")
	}
	db, err := meta.OpenPostgres(ctx, url)
	must(t, err)
	_ = db.Publish(ctx, func(context.Context, meta.Publication) (*meta.Publication, error) {
		fmt.Println("holding")
		select {}
	})
}

// TestPostgresKillPublisher kills (SIGKILL) a process that holds the
// right to publish: another instance gets it at once.
func TestPostgresKillPublisher(t *testing.T) {
	url := pgtest.URL(t)
	db, err := meta.OpenPostgres(ctx, url)
	must(t, err)
	defer db.Close()
	child := exec.Command(os.Args[0], "-test.run=^TestPostgresHoldPublish$")
	child.Env = append(os.Environ(), envHoldURL+"="+url)
	out, err := child.StdoutPipe()
	must(t, err)
	must(t, child.Start())
	defer child.Process.Kill() //nolint:errcheck // killed below unless the test failed first
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "holding\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	if err := publishNote(db, 200*time.Millisecond, "while held"); err == nil {
		t.Fatal("published while the child held the right")
	}
	must(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait() // killed
	start := time.Now()
	must(t, publishNote(db, 10*time.Second, "after the kill"))
	t.Logf("the right passed %v after the holder was killed", time.Since(start).Round(time.Millisecond))
}

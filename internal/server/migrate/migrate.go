// Package migrate is coffer serve migrate (docs/operations.md, Migration):
// it copies an embedded server — SQLite in DATA/meta.db, objects in
// DATA/accounts/, the log key in DATA/log.key — to a PostgreSQL metadata
// database and a prefix of an S3 bucket, and verifies the copy.
//
// Objects are copied first, while the old server may still run; a copy
// is resumable, skipping objects already present with the same size.
// Once no server holds the data directory (server.LockData), the objects
// are copied again, those deleted since are deleted from the bucket, and
// every metadata row and the whole transparency log are imported in one
// transaction, so that the new servers serve the same log, byte-identical
// checkpoint and tiles, and their clients see nothing but a consistent
// extension of it. Running it again changes nothing.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/coffer-backup/coffer/internal/server"
	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/objects"
	"github.com/coffer-backup/coffer/internal/store/s3"
)

// Config is what to copy where.
type Config struct {
	Data       string // the embedded server's data directory
	DB         string // postgres:// URL of the new metadata database
	Objects    string // s3://BUCKET/PREFIX of the new object backend
	S3Endpoint string // URL of a non-AWS S3 service, or ""
	// LogKeyFile is the log key file the new servers are given: DATA/log.key
	// is copied there if it is missing, and must be the same key if not.
	LogKeyFile string
	// ReadData makes the verification read every content-named object
	// back from the bucket and check its SHA-256 against its name.
	ReadData bool
	// Progress, if not nil, is called after every object copied.
	Progress func(Report)
}

// Report is what a run did and found.
type Report struct {
	Accounts    int   // accounts whose objects were copied
	Objects     int64 // objects in the old server
	Bytes       int64 // their total size
	Copied      int64 // objects copied by this run
	CopiedBytes int64 // their total size
	Deleted     int64 // objects deleted from the bucket, gone from the old server
	Imported    bool  // the metadata was imported by this run (not there already)
	LogSize     uint64
	Checkpoint  uint64 // tree size of the checkpoint, verified
	ReadObjects int64  // objects whose hash was checked (ReadData)
}

// ErrServerRunning means the objects were copied but a server still uses
// the data directory, so the metadata was not: stop it and run again.
var ErrServerRunning = server.ErrDataInUse

// Run copies the objects, and, if no server runs on the data directory,
// the metadata and log, then verifies the copy. With a server running it
// returns the report of the objects' copy and an error wrapping
// ErrServerRunning.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	vkey, err := copyLogKey(cfg)
	if err != nil {
		return nil, err
	}
	m, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer m.close()
	if err := m.copyObjects(ctx, false); err != nil {
		return &m.report, err
	}
	unlock, err := server.LockData(cfg.Data, true)
	if err != nil {
		return &m.report, fmt.Errorf("objects copied, metadata not: %w", err)
	}
	defer unlock()
	return &m.report, m.finish(ctx, vkey)
}

// checkConfig refuses a configuration Run cannot copy.
func checkConfig(cfg Config) error {
	switch {
	case cfg.Data == "" || cfg.DB == "" || cfg.Objects == "" || cfg.LogKeyFile == "":
		return errors.New("migrate needs --data, --db, --objects and --log-key")
	case !s3.IsLocation(cfg.Objects):
		return errors.New("--objects must be s3://BUCKET/PREFIX")
	}
	if _, err := os.Stat(filepath.Join(cfg.Data, "meta.db")); err != nil {
		return fmt.Errorf("no embedded server in %s: %w", cfg.Data, err)
	}
	return nil
}

// migration is one run's open backends and databases.
type migration struct {
	cfg    Config
	src    *objects.Local
	dst    *objects.S3
	dstDB  meta.DB
	mu     sync.Mutex // guards report, which workers update
	report Report
}

// open opens the old objects, the bucket and the new database.
func open(ctx context.Context, cfg Config) (*migration, error) {
	src, err := objects.NewLocal(filepath.Join(cfg.Data, objects.AccountsDir))
	if err != nil {
		return nil, err
	}
	loc, err := s3.ParseLocation(cfg.Objects)
	if err != nil {
		return nil, err
	}
	dst, err := objects.NewS3(ctx, loc, cfg.S3Endpoint)
	if err != nil {
		return nil, err
	}
	db, err := meta.OpenPostgres(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	return &migration{cfg: cfg, src: src, dst: dst, dstDB: db}, nil
}

// close closes what open opened; neither holds anything a failed close
// could lose.
func (m *migration) close() {
	_ = m.dstDB.Close()
	_ = m.dst.Close()
}

// finish, with no server running, copies the objects again (deleting
// those gone), imports the metadata, and verifies the copy.
func (m *migration) finish(ctx context.Context, vkey string) error {
	if err := m.copyObjects(ctx, true); err != nil {
		return err
	}
	srcDB, err := meta.OpenSQLite(filepath.Join(m.cfg.Data, "meta.db"))
	if err != nil {
		return err
	}
	defer srcDB.Close()
	d, err := m.copyMeta(ctx, srcDB, vkey)
	if err != nil {
		return err
	}
	return m.verify(ctx, srcDB, d, vkey)
}

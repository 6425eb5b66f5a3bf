package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/coffer-backup/coffer/internal/server/migrate"
)

// migrateUsage is the synopsis of coffer serve migrate.
const migrateUsage = "usage: coffer serve migrate --data DIR --db postgres://… --objects s3://BUCKET/PREFIX --log-key FILE [--s3-endpoint URL] [--read-data]"

// runMigrate is "coffer serve migrate" (docs/operations.md, Migration): it
// parses the flags, runs internal/server/migrate and prints its report.
func runMigrate(ctx context.Context, e *env, args []string) error {
	var cfg migrate.Config
	fs := flag.NewFlagSet("serve migrate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&cfg.Data, "data", "", "data directory of the embedded server to copy")
	fs.StringVar(&cfg.DB, "db", "", "PostgreSQL metadata database to copy to, postgres://… (give a password in PGPASSWORD or ~/.pgpass)")
	fs.StringVar(&cfg.Objects, "objects", "", "S3 location to copy the objects to, s3://BUCKET/PREFIX")
	fs.StringVar(&cfg.S3Endpoint, "s3-endpoint", "", "URL of an S3-compatible service (default: AWS)")
	fs.StringVar(&cfg.LogKeyFile, "log-key", "", "log key file of the new servers: DIR/log.key is copied there if missing, and must be the same key if not")
	fs.BoolVar(&cfg.ReadData, "read-data", false, "read every object back and check its SHA-256 against its name")
	if err := fs.Parse(args); err != nil {
		return usageError{migrateUsage}
	}
	if fs.NArg() > 0 || cfg.Data == "" || cfg.DB == "" || cfg.Objects == "" || cfg.LogKeyFile == "" {
		return usageError{migrateUsage}
	}
	r, err := migrate.Run(ctx, cfg)
	printMigration(e.stdout, r)
	if errors.Is(err, migrate.ErrServerRunning) {
		return fmt.Errorf("%w; the objects are copied: stop the old server and run the same command again", err)
	}
	return err
}

// printMigration prints what a migration did.
func printMigration(w io.Writer, r *migrate.Report) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "objects: %d accounts, %d objects, %d bytes; copied %d (%d bytes), deleted %d\n",
		r.Accounts, r.Objects, r.Bytes, r.Copied, r.CopiedBytes, r.Deleted)
	if r.Checkpoint > 0 || r.Imported {
		fmt.Fprintf(w, "metadata: imported %v; log of %d leaves, checkpoint of %d verified\n", r.Imported, r.LogSize, r.Checkpoint)
	}
	if r.ReadObjects > 0 {
		fmt.Fprintf(w, "read data: %d objects' SHA-256 checked\n", r.ReadObjects)
	}
}

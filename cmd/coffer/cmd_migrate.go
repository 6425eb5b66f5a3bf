package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/coffer-backup/coffer/internal/server"
	"github.com/coffer-backup/coffer/internal/server/migrate"
)

// migrateUsage is the synopsis of coffer serve migrate.
const migrateUsage = "usage: coffer serve migrate --data DIR --db postgres://… --objects s3://BUCKET/PREFIX --log-key FILE [--s3-endpoint URL] [--read-data]"

// migrateConfig takes coffer serve migrate's settings from serve's flags,
// which it shares.
func migrateConfig(cfg server.Config, readData bool) migrate.Config {
	return migrate.Config{
		Data: cfg.Data, DB: cfg.DB, Objects: cfg.Objects, S3Endpoint: cfg.S3Endpoint,
		LogKeyFile: cfg.LogKeyFile, ReadData: readData,
	}
}

// runMigrate is "coffer serve migrate" (docs/operations.md, Migration): it
// runs internal/server/migrate and prints its report.
func runMigrate(ctx context.Context, e *env, cfg migrate.Config, args []string) error {
	if len(args) > 0 || cfg.Data == "" || cfg.DB == "" || cfg.Objects == "" || cfg.LogKeyFile == "" {
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

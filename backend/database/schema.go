package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/foxstore/foxstore/driver"
)

// migrate brings the table to schemaVersion, creating it on first open, and
// records the version in the meta table. Stores opening the same table at
// once take turns: PostgreSQL and SQLite run the whole migration in one
// transaction (their DDL is transactional) under a lock, MySQL under a named
// lock, with statements that can be repeated after a crash half way.
func (s *Store) migrate(ctx context.Context, table string) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()

	switch s.d.name {
	case "mysql":
		return s.migrateMySQL(ctx, conn, table)
	case "postgres":
		if _, err := conn.ExecContext(ctx, "SET lock_timeout = '30s'"); err != nil {
			return err
		}
		defer func() {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			conn.ExecContext(cctx, "RESET lock_timeout")
		}()
	}
	tx, err := conn.BeginTx(ctx, nil) // SQLite: BEGIN IMMEDIATE, the write lock
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.d.name == "postgres" {
		h := fnv.New64a()
		h.Write([]byte("foxstore schema"))
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64())); err != nil {
			return err
		}
	}
	if err := s.migrateSteps(ctx, tx, table); err != nil {
		return err
	}
	return tx.Commit()
}

type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) migrateMySQL(ctx context.Context, conn *sql.Conn, table string) error {
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(CONCAT(DATABASE(), '.foxstore_schema'), 30)").Scan(&got); err != nil {
		return err
	}
	if !got.Valid || got.Int64 != 1 {
		return driver.NewError(driver.CodeConflict, "", "", errors.New("timed out waiting for another process to migrate the schema"))
	}
	defer func() {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		conn.ExecContext(cctx, "DO RELEASE_LOCK(CONCAT(DATABASE(), '.foxstore_schema'))")
	}()
	return s.migrateSteps(ctx, conn, table)
}

func (s *Store) migrateSteps(ctx context.Context, q execQuerier, table string) error {
	if _, err := q.ExecContext(ctx, s.d.metaCreate); err != nil {
		return fmt.Errorf("create %s: %w", metaTable, err)
	}
	version, variants, err := s.recorded(ctx, q, table)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if len(variants) > 0 {
		if version == 0 {
			return driver.NewError(driver.CodeInvalid, "", "", fmt.Errorf(
				"table name %q differs only in case from the foxstore table %q of this database; "+
					"SQLite (and MySQL on Windows and macOS) would take them for one table, "+
					"so foxstore refuses it on every driver: choose another name", table, variants[0]))
		}
		// Recorded before foxstore refused case variants: on SQLite they
		// have always been one table. Keep opening it, but say so.
		s.log.Warn("foxstore: table names that differ only in case are one table on SQLite (and on MySQL on Windows and macOS)",
			"table", table, "others", variants)
	}
	if version > schemaVersion {
		return driver.NewError(driver.CodeInvalid, "", "", fmt.Errorf(
			"table %s has schema version %d; this foxstore knows versions up to %d: upgrade foxstore", table, version, schemaVersion))
	}
	for v := version; v < schemaVersion; v++ {
		for _, stmt := range s.d.migrations[v] {
			if _, err := q.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migrate table %s to schema version %d: %w", table, v+1, err)
			}
		}
		if _, err := q.ExecContext(ctx, s.d.metaPut, table, v+1); err != nil {
			return fmt.Errorf("record schema version: %w", err)
		}
	}
	// A table that existed before foxstore recorded it, or that someone
	// changed, must still have the columns we use.
	if _, err := q.ExecContext(ctx, s.d.probe); err != nil {
		return fmt.Errorf("table %s does not have foxstore's columns (k, v, exp): %w", table, err)
	}
	return nil
}

// recorded returns the schema version the meta table records for table (0
// when it records none) and the other recorded names that equal table but
// for case. Names are compared here, in Go, and not by the database, whose
// collation may ignore case (MySQL's default one does).
func (s *Store) recorded(ctx context.Context, q execQuerier, table string) (version int, variants []string, err error) {
	rows, err := q.QueryContext(ctx, s.d.metaGet, table)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			name string
			v    int
		)
		if err := rows.Scan(&name, &v); err != nil {
			return 0, nil, err
		}
		if name == table {
			version = v
		} else {
			variants = append(variants, name)
		}
	}
	return version, variants, rows.Err()
}

// cleanupTimeout bounds statements that must run after ctx has ended
// (ROLLBACK, releasing a lock), so that a server that stopped answering
// cannot hold them forever.
const cleanupTimeout = 5 * time.Second

// cleanupContext is the ctx for such statements.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

package database_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/backend/database"
	"github.com/foxstore/foxstore/driver"
)

// The server tests run when these variables hold a DSN; .ci/run sets them.
const (
	envPostgres = "FOXSTORE_TEST_POSTGRES" // e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable
	envMySQL    = "FOXSTORE_TEST_MYSQL"    // e.g. root@tcp(127.0.0.1:3306)/test
)

// target is one database to run a test against.
type target struct {
	driver string // sqlite, postgres, mysql
	dsn    string // for sqlite: "" (a file in a fresh temp dir)
}

// serverTarget returns the target for a server driver, or skips the test
// naming the variable to set.
func serverTarget(t testing.TB, drv string) target {
	t.Helper()
	env := map[string]string{"postgres": envPostgres, "mysql": envMySQL}[drv]
	dsn := os.Getenv(env)
	if dsn == "" {
		t.Skipf("set %s to a %s DSN to run this test", env, drv)
	}
	return target{driver: drv, dsn: dsn}
}

// eachTarget runs fn as a subtest per available driver; server drivers
// without their variable are reported as skipped.
func eachTarget(t *testing.T, fn func(t *testing.T, tg target)) {
	for _, drv := range []string{"sqlite", "postgres", "mysql"} {
		t.Run(drv, func(t *testing.T) {
			tg := target{driver: drv}
			if drv != "sqlite" {
				tg = serverTarget(t, drv)
			}
			fn(t, tg)
		})
	}
}

// randomTable returns a table name no other test run uses.
func randomTable() string {
	var b [6]byte
	rand.Read(b[:])
	return "fxt_" + hex.EncodeToString(b[:])
}

// config returns a store configuration for tg with a fresh table (and, for
// SQLite, a fresh file), and drops the table when t ends.
func (tg target) config(t testing.TB) foxstore.Config {
	t.Helper()
	cfg := foxstore.Config{
		Backend:            "database",
		CacheSize:          0,
		TTLCleanupInterval: time.Hour,
		Database: driver.DatabaseConfig{
			Driver: tg.driver,
			DSN:    tg.dsn,
			Table:  randomTable(),
		},
	}
	if tg.driver == "sqlite" {
		cfg.Database.DSN = filepath.Join(t.TempDir(), "store.db")
	} else {
		table := cfg.Database.Table
		t.Cleanup(func() { dropTable(t, tg, table) })
	}
	return cfg
}

// open opens a store for tg on a fresh table, closed when t ends.
func (tg target) open(t testing.TB, edit ...func(*foxstore.Config)) foxstore.StoragePlugin {
	t.Helper()
	cfg := tg.config(t)
	for _, e := range edit {
		e(&cfg)
	}
	return openCfg(t, cfg)
}

func openCfg(t testing.TB, cfg foxstore.Config) foxstore.StoragePlugin {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := foxstore.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg.Database.Driver, err)
	}
	t.Cleanup(func() { s.(io.Closer).Close() })
	return s
}

// rawDB opens tg's database directly, for checks behind the store's back.
func (tg target) rawDB(t testing.TB) *sql.DB {
	t.Helper()
	var (
		db  *sql.DB
		err error
	)
	switch tg.driver {
	case "postgres":
		db, err = database.OpenSQL("postgres", tg.dsn)
	case "mysql":
		db, err = database.OpenSQL("mysql", tg.dsn)
	default:
		t.Fatalf("rawDB: no server for %s", tg.driver)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dropTable removes a test table and its schema record.
func dropTable(t testing.TB, tg target, table string) {
	db, err := database.OpenSQL(tg.driver, tg.dsn)
	if err != nil {
		t.Logf("drop %s: %v", table, err)
		return
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := `DROP TABLE IF EXISTS "` + table + `"`
	meta := `DELETE FROM foxstore_meta WHERE tbl = $1`
	if tg.driver == "mysql" {
		q = "DROP TABLE IF EXISTS `" + table + "`"
		meta = `DELETE FROM foxstore_meta WHERE tbl = ?`
	}
	if _, err := db.ExecContext(ctx, q); err != nil {
		t.Logf("drop %s: %v", table, err)
	}
	if _, err := db.ExecContext(ctx, meta, table); err != nil {
		t.Logf("drop %s: %v", table, err)
	}
}

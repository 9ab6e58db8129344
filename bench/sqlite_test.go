package bench

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3" // registers "sqlite3", needs cgo
	_ "modernc.org/sqlite"          // registers "sqlite"

	"github.com/foxstore/foxstore"
	_ "github.com/foxstore/foxstore/backend/database"
	"github.com/foxstore/foxstore/driver"
)

// The SQLite benchmarks run the same statements on the same schema through
// database/sql with the pure-Go driver that foxstore uses (modernc.org/sqlite)
// and with the cgo one (github.com/mattn/go-sqlite3), both with WAL and
// synchronous=FULL, so that they compare the drivers only. foxstore's
// database backend on its default SQLite runs next to them.

// The schema and statements of the database backend on SQLite (see
// backend/database/dialect.go): keys and values are BLOBs, values in
// foxstore's encoding.
const (
	sqliteTable  = `CREATE TABLE kv (k BLOB NOT NULL PRIMARY KEY, v BLOB NOT NULL, exp INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID`
	sqliteIndex  = `CREATE INDEX kv_exp ON kv (exp) WHERE exp > 0`
	sqliteUpsert = `INSERT INTO kv (k, v, exp) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v, exp = excluded.exp`
	sqliteGet    = `SELECT v, exp FROM kv WHERE k = ?`
)

// sqliteRows is the size of the table the SQLite benchmarks read and
// overwrite.
const sqliteRows = 10_000

// The keys of the table and the encoded values, made once so that neither
// driver pays for the conversions.
var (
	sqliteKeys   = make([][]byte, sqliteRows)
	sqliteValues = make([][]byte, len(values))
)

func init() {
	for i := range sqliteKeys {
		sqliteKeys[i] = []byte(keys[i])
	}
	for i, v := range values {
		ev, err := driver.EncodeValue(v)
		if err != nil {
			panic(err)
		}
		sqliteValues[i] = ev.Bytes()
	}
}

// sqliteDrivers names each driver and how its DSN asks for the pragmas;
// %s is the synchronous setting.
var sqliteDrivers = []struct {
	name, driver, params string
}{
	{"via=modernc", "sqlite", "_pragma=journal_mode(WAL)&_pragma=synchronous(%s)&_pragma=busy_timeout(5000)"},
	{"via=mattn-cgo", "sqlite3", "_journal_mode=WAL&_synchronous=%s&_busy_timeout=5000"},
}

// sqliteSync is the synchronous settings of BenchmarkSQLiteUpsert: FULL,
// foxstore's, where each commit waits for an fsync of the WAL, and OFF,
// where it does not, which leaves the cost of the driver and SQLite itself
// in plain sight. Reads do not depend on it and run with FULL.
var sqliteSync = []struct {
	name, pragma string
	level        int // what PRAGMA synchronous reads back
}{
	{"sync=FULL", "FULL", 2},
	{"sync=OFF", "OFF", 0},
}

// openRawSQLite creates the table in a new database in dir, with WAL and
// the given synchronous setting, and fills it.
func openRawSQLite(b *testing.B, drv, params, pragma string, level int, dir string) *sql.DB {
	db, err := sql.Open(drv, filepath.Join(dir, "kv.db")+"?"+fmt.Sprintf(params, pragma))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if err := db.PingContext(ctx); err != nil {
		if strings.Contains(err.Error(), "CGO_ENABLED=0") {
			b.Skip("the cgo driver needs CGO_ENABLED=1")
		}
		b.Fatal(err)
	}
	// Both drivers must run with the settings of the comparison.
	var mode string
	var sync int
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		b.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		b.Fatal(err)
	}
	if mode != "wal" || sync != level {
		b.Fatalf("journal_mode=%s synchronous=%d, want wal and %d (%s)", mode, sync, level, pragma)
	}
	for _, q := range []string{sqliteTable, sqliteIndex} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range sqliteRows {
		if _, err := tx.ExecContext(ctx, sqliteUpsert, sqliteKeys[i], sqliteValues[i], int64(0)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return db
}

func prepare(b *testing.B, db *sql.DB, q string) *sql.Stmt {
	stmt, err := db.PrepareContext(context.Background(), q)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stmt.Close() })
	return stmt
}

// openFoxSQLite opens foxstore's database backend on a SQLite file in dir,
// with its defaults (WAL, synchronous=FULL, no read cache) but for the
// synchronous setting, and fills it.
func openFoxSQLite(b *testing.B, pragma, dir string) foxstore.StoragePlugin {
	dsn := filepath.Join(dir, "kv.db") + "?_pragma=synchronous(" + pragma + ")"
	cfg := foxstore.Config{Backend: "database", Logger: quiet, Database: foxstore.DatabaseConfig{DSN: dsn}}
	s, err := foxstore.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.(foxstore.Store).Close() })
	loadFox(b, s, sqliteRows)
	return s
}

// BenchmarkSQLiteUpsert overwrites one row per op, committed on its own,
// with a value other than the row's.
func BenchmarkSQLiteUpsert(b *testing.B) {
	ctx := context.Background()
	for _, sy := range sqliteSync {
		for _, d := range sqliteDrivers {
			b.Run(sy.name+"/"+d.name, func(b *testing.B) {
				db := openRawSQLite(b, d.driver, d.params, sy.pragma, sy.level, b.TempDir())
				stmt := prepare(b, db, sqliteUpsert)
				b.ReportAllocs()
				j := 0
				for b.Loop() {
					k, v := write(j, sqliteRows)
					if _, err := stmt.ExecContext(ctx, sqliteKeys[k], sqliteValues[v], int64(0)); err != nil {
						b.Fatal(err)
					}
					j++
				}
			})
		}
		b.Run(sy.name+"/via=foxstore", func(b *testing.B) {
			s := openFoxSQLite(b, sy.pragma, b.TempDir())
			b.ReportAllocs()
			j := 0
			for b.Loop() {
				k, v := write(j, sqliteRows)
				if err := s.Set(ctx, keys[k], values[v], 0); err != nil {
					b.Fatal(err)
				}
				j++
			}
		})
	}
}

// BenchmarkSQLiteGet reads one row per op by its key.
func BenchmarkSQLiteGet(b *testing.B) {
	ctx := context.Background()
	full := sqliteSync[0]
	for _, d := range sqliteDrivers {
		b.Run(d.name, func(b *testing.B) {
			db := openRawSQLite(b, d.driver, d.params, full.pragma, full.level, b.TempDir())
			stmt := prepare(b, db, sqliteGet)
			b.ReportAllocs()
			var (
				v   []byte
				exp int64
			)
			i := 0
			for b.Loop() {
				if err := stmt.QueryRowContext(ctx, sqliteKeys[i]).Scan(&v, &exp); err != nil {
					b.Fatal(err)
				}
				if i++; i == sqliteRows {
					i = 0
				}
			}
		})
	}
	b.Run("via=foxstore", func(b *testing.B) {
		s := openFoxSQLite(b, full.pragma, b.TempDir())
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.Get(ctx, keys[i]); err != nil {
				b.Fatal(err)
			}
			if i++; i == sqliteRows {
				i = 0
			}
		}
	})
}

package database_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/backend/database"
	"github.com/foxstore/foxstore/driver"
)

// Benchmarks compare the store with database/sql running the same
// statements on the same driver. Run them with, for example:
//
//	go test -run '^$' -bench 'Get$|Set$' -benchtime 2000x -count 6 ./backend/database
//	go test -run '^$' -bench SetBatch1000 -benchtime 5x -count 6 ./backend/database
//
// with FOXSTORE_TEST_POSTGRES and FOXSTORE_TEST_MYSQL set for the servers,
// then benchstat -col /via (or /op). -count runs the whole benchmark again,
// so foxstore and database/sql take turns, which spreads a noisy machine's
// swings over both. FOXSTORE_BENCH_ROWS sets the table size of
// BenchmarkKeys (default 100000).
//
// Every write changes the row's value: SQLite and InnoDB skip rewriting a
// row with the bytes it already holds, and then commit without an fsync,
// which would measure a write that never reaches the disk. Besides ns/op,
// the write benchmarks report cpu-ns/op, the CPU time of this process per
// op (SQLite runs inside it; for the servers it is the client's share),
// which other processes on the machine disturb far less than the clock.

func benchTargets(b *testing.B, fn func(b *testing.B, tg target)) {
	for _, drv := range []string{"sqlite", "postgres", "mysql"} {
		b.Run(drv, func(b *testing.B) {
			tg := target{driver: drv}
			if drv != "sqlite" {
				tg = serverTarget(b, drv)
			}
			fn(b, tg)
		})
	}
}

// benchWriteTargets is benchTargets with SQLite twice: with the store's
// settings (synchronous=FULL, every commit waits for an fsync of the WAL)
// and as sqlite-syncoff (synchronous=OFF), where nothing waits for the disk
// and the work of the store, the driver and SQLite is all that is left.
// fn gets the configuration of a fresh table.
func benchWriteTargets(b *testing.B, fn func(b *testing.B, tg target, cfg foxstore.Config)) {
	for _, name := range []string{"sqlite", "sqlite-syncoff", "postgres", "mysql"} {
		b.Run(name, func(b *testing.B) {
			tg := target{driver: "sqlite"}
			if name == "postgres" || name == "mysql" {
				tg = serverTarget(b, name)
			}
			cfg := tg.config(b)
			if name == "sqlite-syncoff" {
				cfg.Database.DSN += "?_pragma=synchronous(OFF)"
			}
			fn(b, tg, cfg)
		})
	}
}

// rawFor opens database/sql directly on the database and table of cfg, with
// the driver and connection settings of the store (database.OpenSQL).
func rawFor(b *testing.B, cfg foxstore.Config) (*sql.DB, string) {
	db, err := database.OpenSQL(cfg.Database.Driver, cfg.Database.DSN)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	q := `"` + cfg.Database.Table + `"`
	if cfg.Database.Driver == "mysql" {
		q = "`" + cfg.Database.Table + "`"
	}
	return db, q
}

func ph(drv string, i int) string {
	if drv == "postgres" {
		return "$" + strconv.Itoa(i)
	}
	return "?"
}

// benchRows is the number of rows the Get and Set benchmarks read and
// write, in turn.
const benchRows = 1000

// benchKeys are the keys of those rows, as strings and as the bytes the
// raw statements bind, made once so that neither side pays for them.
var benchKeys, benchKeyBytes = func() ([]string, [][]byte) {
	ks, bs := make([]string, benchRows), make([][]byte, benchRows)
	for i := range ks {
		ks[i] = fmt.Sprintf("song:%04d", i)
		bs[i] = []byte(ks[i])
	}
	return ks, bs
}()

// benchValues are three values of 100 bytes: the write benchmarks load
// every row with the last and then write the first two in turn, so that
// every write changes its row.
var benchValues = []string{strings.Repeat("a", 100), strings.Repeat("b", 100), strings.Repeat("c", 100)}

// loadBench writes every benchmark row with benchValues[2].
func loadBench(b *testing.B, st foxstore.StoragePlugin) {
	data := make(map[string]any, benchRows)
	for _, k := range benchKeys {
		data[k] = benchValues[2]
	}
	if err := st.SetBatch(context.Background(), data); err != nil {
		b.Fatal(err)
	}
}

// cpuMetric reports, when the benchmark ends, the CPU time this process
// used per op since it was called.
func cpuMetric(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if start >= 0 && b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func BenchmarkGet(b *testing.B) {
	benchTargets(b, func(b *testing.B, tg target) {
		cfg := tg.config(b) // read cache off
		st := openCfg(b, cfg)
		ctx := context.Background()
		loadBench(b, st)
		b.Run("via=foxstore", func(b *testing.B) {
			defer cpuMetric(b)()
			i := 0
			for b.Loop() {
				if _, err := st.Get(ctx, benchKeys[i%benchRows]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("via=database-sql", func(b *testing.B) {
			db, table := rawFor(b, cfg)
			stmt, err := db.PrepareContext(ctx, "SELECT v, exp FROM "+table+" WHERE k = "+ph(tg.driver, 1))
			if err != nil {
				b.Fatal(err)
			}
			defer stmt.Close()
			defer cpuMetric(b)()
			i := 0
			for b.Loop() {
				var (
					v   []byte
					exp int64
				)
				if err := stmt.QueryRowContext(ctx, benchKeyBytes[i%benchRows]).Scan(&v, &exp); err != nil {
					b.Fatal(err)
				}
				if _, err := driver.ParseValue(v); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
}

func upsertSQL(drv, table string) string {
	if drv == "mysql" {
		return "INSERT INTO " + table + " (k, v, exp) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v), exp = VALUES(exp)"
	}
	return "INSERT INTO " + table + " (k, v, exp) VALUES (" + ph(drv, 1) + ", " + ph(drv, 2) + ", " + ph(drv, 3) + ") ON CONFLICT (k) DO UPDATE SET v = excluded.v, exp = excluded.exp"
}

// BenchmarkSet writes one row per op, committed on its own: through the
// store, and as the bare upsert the store runs, prepared once and run on
// database/sql's pool (autocommit). Op i writes row i mod 1000 with the
// value of its pass, so every op changes its row.
func BenchmarkSet(b *testing.B) {
	benchWriteTargets(b, func(b *testing.B, tg target, cfg foxstore.Config) {
		st := openCfg(b, cfg)
		ctx := context.Background()
		b.Run("via=foxstore", func(b *testing.B) {
			loadBench(b, st)
			defer cpuMetric(b)()
			i := 0
			for b.Loop() {
				if err := st.Set(ctx, benchKeys[i%benchRows], benchValues[i/benchRows%2], 0); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("via=database-sql", func(b *testing.B) {
			loadBench(b, st)
			db, table := rawFor(b, cfg)
			stmt, err := db.PrepareContext(ctx, upsertSQL(tg.driver, table))
			if err != nil {
				b.Fatal(err)
			}
			defer stmt.Close()
			var vals [2][]byte
			for j := range vals {
				v, err := driver.EncodeValue(benchValues[j])
				if err != nil {
					b.Fatal(err)
				}
				vals[j] = v.Bytes()
			}
			defer cpuMetric(b)()
			i := 0
			for b.Loop() {
				if _, err := stmt.ExecContext(ctx, benchKeyBytes[i%benchRows], vals[i/benchRows%2], int64(0)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
}

// BenchmarkSetBatch1000 compares one SetBatch of 1,000 entries with 1,000
// Set calls; each op writes the 1,000 rows, with the value other than the
// one the previous op wrote.
func BenchmarkSetBatch1000(b *testing.B) {
	benchWriteTargets(b, func(b *testing.B, tg target, cfg foxstore.Config) {
		st := openCfg(b, cfg)
		ctx := context.Background()
		var batches [2]map[string]any
		for j := range batches {
			batches[j] = make(map[string]any, benchRows)
			for _, k := range benchKeys {
				batches[j][k] = benchValues[j]
			}
		}
		b.Run("op=SetBatch", func(b *testing.B) {
			loadBench(b, st)
			defer cpuMetric(b)()
			i := 0
			for b.Loop() {
				if err := st.SetBatch(ctx, batches[i%2]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("op=Set-x1000", func(b *testing.B) {
			loadBench(b, st)
			defer cpuMetric(b)()
			i := 0
			for b.Loop() {
				for _, k := range benchKeys {
					if err := st.Set(ctx, k, benchValues[i%2], 0); err != nil {
						b.Fatal(err)
					}
				}
				i++
			}
		})
	})
}

// BenchmarkCachedGet compares a Get served by the read cache with a Get of
// the memory backend.
func BenchmarkCachedGet(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		cfg  foxstore.Config
	}{
		{"memory", foxstore.Config{Backend: "memory"}},
		{"database-cached", foxstore.Config{Backend: "database", CacheSize: 1000,
			Database: driver.DatabaseConfig{DSN: filepath.Join(b.TempDir(), "c.db")}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			st := openCfg(b, c.cfg)
			for i := range 100 {
				if err := st.Set(ctx, fmt.Sprintf("song:%03d", i), "value", 0); err != nil {
					b.Fatal(err)
				}
			}
			keys := make([]string, 100)
			for i := range keys {
				keys[i] = fmt.Sprintf("song:%03d", i)
			}
			i := 0
			for b.Loop() {
				if _, err := st.Get(ctx, keys[i%100]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkKeys reads Keys("song:*") from a table where 1% of the rows
// match, against "*song:*", which has no literal prefix and so reads every
// row. It logs the query plan of the prefix scan.
func BenchmarkKeys(b *testing.B) {
	rows := 100000
	if s := os.Getenv("FOXSTORE_BENCH_ROWS"); s != "" {
		var err error
		if rows, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	benchTargets(b, func(b *testing.B, tg target) {
		cfg := tg.config(b)
		st := openCfg(b, cfg)
		ctx := context.Background()
		batch := map[string]any{}
		flush := func() {
			if err := st.SetBatch(ctx, batch); err != nil {
				b.Fatal(err)
			}
			clear(batch)
		}
		for i := range rows {
			k := fmt.Sprintf("album:%08d", i)
			if i%100 == 0 {
				k = fmt.Sprintf("song:%08d", i)
			}
			batch[k] = i
			if len(batch) == 1000 {
				flush()
			}
		}
		flush()
		db, table := rawFor(b, cfg)
		explain := "EXPLAIN "
		if tg.driver == "sqlite" {
			explain = "EXPLAIN QUERY PLAN "
		}
		if tg.driver == "postgres" {
			db.ExecContext(ctx, "ANALYZE "+table)
		}
		plan, err := queryPlan(ctx, db, explain+"SELECT k, v, exp FROM "+table+" WHERE k >= "+ph(tg.driver, 1)+" AND k < "+ph(tg.driver, 2)+" ORDER BY k", []byte("song:"), []byte("song;"))
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%s plan of the prefix scan (%d rows):\n%s", tg.driver, rows, plan)
		for _, pat := range []string{"song:*", "*song:*"} {
			b.Run(pat, func(b *testing.B) {
				for b.Loop() {
					keys, err := st.Keys(ctx, pat)
					if err != nil || len(keys) != (rows+99)/100 {
						b.Fatalf("Keys(%s) = %d keys, %v", pat, len(keys), err)
					}
				}
			})
		}
	})
}

// queryPlan returns the rows of an EXPLAIN, one line each.
func queryPlan(ctx context.Context, db *sql.DB, q string, args ...any) (string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, "  "+strings.Join(parts, " | "))
	}
	return strings.Join(out, "\n"), rows.Err()
}

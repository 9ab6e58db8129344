package database_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/backend/database"
	"github.com/foxstore/foxstore/driver"
)

// Benchmarks compare the store with database/sql running the same
// statements on the same driver, and SetBatch with Set. Run them with:
//
//	go test -run '^$' -bench 'Get$|Set$' -benchtime 100x -count 6 ./backend/database
//	go test -run '^$' -bench SetBatch1000 -benchtime 4x -count 6 ./backend/database
//
// with FOXSTORE_TEST_POSTGRES and FOXSTORE_TEST_MYSQL set for the servers,
// and read them with benchstat. FOXSTORE_BENCH_ROWS sets the table size of
// BenchmarkKeys (default 100000).
//
// Get, Set and SetBatch1000 each time two ways of doing the same work in
// turns within one run (see paired), and report the time of each per op
// and their ratio, so that a noisy machine's swings fall on both sides
// alike; -count repeats the whole run.
//
// Every write changes the row's value: SQLite and InnoDB skip rewriting a
// row with the bytes it already holds, and then commit without an fsync,
// which would time a write that never reaches the disk.

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

// benchRows is the number of rows the benchmarks read and write, in turn.
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

// benchValues are three values of 100 bytes. The benchmarks load every row
// with the last, then write the first two in turn: op i writes row i mod
// 1000 with benchValue(i), so every write changes its row, whichever side
// runs it.
var benchValues = []string{strings.Repeat("a", 100), strings.Repeat("b", 100), strings.Repeat("c", 100)}

func benchValue(op int) int { return op / benchRows % 2 }

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

// paired times two ways, a and c, of doing the same work, in turns: each
// iteration of the benchmark runs block ops of one, then block ops of the
// other (a first in even iterations, c first in odd ones), each turn
// starting from a collected heap. Op numbers run on across both sides, so
// that writes keep changing their rows. It
// reports the wall time per op of each side (ns/op is a's), the CPU time
// of this process per op of each (SQLite runs inside it; for a server it
// is the client's share), and the ratios a/c of both.
func paired(b *testing.B, block int, a, c string, runA, runC func(op int) error) {
	var (
		wall, cpu [2]time.Duration
		ops       [2]int
		op        int
	)
	side := func(s int) {
		run := runA
		if s == 1 {
			run = runC
		}
		// The heap is collected before each turn, untimed: otherwise the
		// garbage of one side is collected in the other's time (1,000
		// Sets slowed the SetBatch after them by half).
		runtime.GC()
		t0, c0 := time.Now(), cpuTime()
		for range block {
			if err := run(op); err != nil {
				b.Fatal(err)
			}
			op++
		}
		wall[s] += time.Since(t0)
		cpu[s] += time.Duration(cpuTime() - c0)
		ops[s] += block
	}
	// One turn of each first, untimed: statements get prepared on the
	// connections, and caches fill.
	side(0)
	side(1)
	wall, cpu, ops = [2]time.Duration{}, [2]time.Duration{}, [2]int{}
	it := 0
	for b.Loop() {
		side(it % 2)
		side(1 - it%2)
		it++
	}
	per := func(d time.Duration, s int) float64 { return float64(d) / float64(ops[s]) }
	b.ReportMetric(per(wall[0], 0), "ns/op")
	b.ReportMetric(per(wall[1], 1), c+"-ns/op")
	b.ReportMetric(per(wall[0], 0)/per(wall[1], 1), a+"/"+c)
	if cpuTime() >= 0 {
		b.ReportMetric(per(cpu[0], 0), a+"-cpu-ns/op")
		b.ReportMetric(per(cpu[1], 1), c+"-cpu-ns/op")
		b.ReportMetric(per(cpu[0], 0)/per(cpu[1], 1), a+"/"+c+"-cpu")
	}
}

// BenchmarkGet reads a row by its key (read cache off) through the store,
// and with the store's statement prepared once on database/sql's pool,
// scanned and parsed the same way; 50 reads on each side in turn.
func BenchmarkGet(b *testing.B) {
	benchTargets(b, func(b *testing.B, tg target) {
		cfg := tg.config(b) // read cache off
		st := openCfg(b, cfg)
		ctx := context.Background()
		loadBench(b, st)
		db, table := rawFor(b, cfg)
		stmt, err := db.PrepareContext(ctx, "SELECT v, exp FROM "+table+" WHERE k = "+ph(tg.driver, 1))
		if err != nil {
			b.Fatal(err)
		}
		defer stmt.Close()
		paired(b, 50, "foxstore", "sql", func(op int) error {
			_, err := st.Get(ctx, benchKeys[op%benchRows])
			return err
		}, func(op int) error {
			var (
				v   []byte
				exp int64
			)
			if err := stmt.QueryRowContext(ctx, benchKeyBytes[op%benchRows]).Scan(&v, &exp); err != nil {
				return err
			}
			val, err := driver.ParseValue(v)
			if err == nil {
				_, err = val.Decode()
			}
			return err
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
// store, and as the bare upsert the store runs, prepared once on
// database/sql's pool and run there (autocommit), with the value already
// encoded; 50 writes on each side in turn.
func BenchmarkSet(b *testing.B) {
	benchWriteTargets(b, func(b *testing.B, tg target, cfg foxstore.Config) {
		st := openCfg(b, cfg)
		ctx := context.Background()
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
		paired(b, 50, "foxstore", "sql", func(op int) error {
			return st.Set(ctx, benchKeys[op%benchRows], benchValues[benchValue(op)], 0)
		}, func(op int) error {
			_, err := stmt.ExecContext(ctx, benchKeyBytes[op%benchRows], vals[benchValue(op)], int64(0))
			return err
		})
	})
}

// BenchmarkSetBatch1000 compares 1,000 Set calls with one SetBatch of the
// same 1,000 entries, in turns; an op writes the 1,000 rows, each with the
// value other than the one the previous op wrote. Set-x1000/SetBatch is
// how many times faster the batch is.
func BenchmarkSetBatch1000(b *testing.B) {
	benchWriteTargets(b, func(b *testing.B, tg target, cfg foxstore.Config) {
		st := openCfg(b, cfg)
		ctx := context.Background()
		loadBench(b, st)
		var batches [2]map[string]any
		for j := range batches {
			batches[j] = make(map[string]any, benchRows)
			for _, k := range benchKeys {
				batches[j][k] = benchValues[j]
			}
		}
		paired(b, 1, "Set-x1000", "SetBatch", func(op int) error {
			for _, k := range benchKeys {
				if err := st.Set(ctx, k, benchValues[op%2], 0); err != nil {
					return err
				}
			}
			return nil
		}, func(op int) error {
			return st.SetBatch(ctx, batches[op%2])
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

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
//	go test -run '^$' -bench . -benchtime 2000x ./backend/database
//
// with FOXSTORE_TEST_POSTGRES and FOXSTORE_TEST_MYSQL set for the servers.
// FOXSTORE_BENCH_ROWS sets the table size of BenchmarkKeys (default 100000).

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

// rawFor opens database/sql directly on the database and table of cfg.
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

func BenchmarkGet(b *testing.B) {
	benchTargets(b, func(b *testing.B, tg target) {
		cfg := tg.config(b)
		st := openCfg(b, cfg)
		ctx := context.Background()
		const n = 1000
		data := map[string]any{}
		for i := range n {
			data[fmt.Sprintf("song:%04d", i)] = strings.Repeat("x", 100)
		}
		if err := st.SetBatch(ctx, data); err != nil {
			b.Fatal(err)
		}
		b.Run("foxstore", func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := st.Get(ctx, fmt.Sprintf("song:%04d", i%n)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("database-sql", func(b *testing.B) {
			db, table := rawFor(b, cfg)
			stmt, err := db.PrepareContext(ctx, "SELECT v, exp FROM "+table+" WHERE k = "+ph(tg.driver, 1))
			if err != nil {
				b.Fatal(err)
			}
			defer stmt.Close()
			i := 0
			for b.Loop() {
				var (
					v   []byte
					exp int64
				)
				if err := stmt.QueryRowContext(ctx, []byte(fmt.Sprintf("song:%04d", i%n))).Scan(&v, &exp); err != nil {
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

func BenchmarkSet(b *testing.B) {
	benchTargets(b, func(b *testing.B, tg target) {
		cfg := tg.config(b)
		st := openCfg(b, cfg)
		ctx := context.Background()
		val := strings.Repeat("x", 100)
		b.Run("foxstore", func(b *testing.B) {
			i := 0
			for b.Loop() {
				if err := st.Set(ctx, fmt.Sprintf("song:%04d", i%1000), val, 0); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("database-sql", func(b *testing.B) {
			db, table := rawFor(b, cfg)
			stmt, err := db.PrepareContext(ctx, upsertSQL(tg.driver, table))
			if err != nil {
				b.Fatal(err)
			}
			defer stmt.Close()
			v, _ := driver.EncodeValue(val)
			i := 0
			for b.Loop() {
				if _, err := stmt.ExecContext(ctx, []byte(fmt.Sprintf("song:%04d", i%1000)), v.Bytes(), int64(0)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
}

// BenchmarkSetBatch1000 compares one SetBatch of 1,000 entries with 1,000
// Set calls; each op writes 1,000 entries.
func BenchmarkSetBatch1000(b *testing.B) {
	benchTargets(b, func(b *testing.B, tg target) {
		st := tg.open(b)
		ctx := context.Background()
		val := strings.Repeat("x", 100)
		batch := map[string]any{}
		for i := range 1000 {
			batch[fmt.Sprintf("song:%04d", i)] = val
		}
		b.Run("SetBatch", func(b *testing.B) {
			for b.Loop() {
				if err := st.SetBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Set-x1000", func(b *testing.B) {
			for b.Loop() {
				for k, v := range batch {
					if err := st.Set(ctx, k, v, 0); err != nil {
						b.Fatal(err)
					}
				}
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

package database_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/backend/database"
	"github.com/foxstore/foxstore/driver"
)

// openBackend opens the SQLite backend itself on dsn with a pool of conns
// connections, closed when t ends.
func openBackend(t *testing.T, dsn string, conns int) *database.Store {
	t.Helper()
	cfg := driver.DefaultConfig()
	cfg.Backend = "database"
	cfg.Database = driver.DatabaseConfig{Driver: "sqlite", DSN: dsn, Table: "kv", MaxOpenConns: conns}
	s, err := database.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func put(t testing.TB, key, val string, expires int64) driver.Write {
	v, err := driver.EncodeValue(val)
	if err != nil {
		t.Fatal(err)
	}
	return driver.Write{Key: key, Entry: driver.Entry{Value: v, Expires: expires}}
}

// slotWait is well below the 5 s a write waits for SQLite's writer slot:
// an operation that takes this long waited for the slot, not for a write.
const slotWait = 2500 * time.Millisecond

// TestSQLiteWritesNeverWaitForPool fills the pool with open transactions,
// starts every kind of write (a single write, a batch, a delete, a sweep),
// and then commits the transactions: the commits must go through at once,
// not wait for the writer slot that a queued write took before it had a
// connection, and the writes must complete. On a file the writes run on
// the writer connection, outside the pool, so they need not wait at all,
// and commit first; the transactions, which share no key with them, still
// commit. In memory (one connection) the writes queue behind the
// transactions.
func TestSQLiteWritesNeverWaitForPool(t *testing.T) {
	for _, c := range []struct {
		name  string
		dsn   func(t *testing.T) string
		conns int
		// writer: the writes run on the writer connection, and a commit
		// that SQLite refuses for its snapshot is checked key by key.
		writer bool
	}{
		{"file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "pool.db") }, 2, true},
		{"memory", func(*testing.T) string { return ":memory:" }, 1, false}, // one connection
	} {
		t.Run(c.name, func(t *testing.T) {
			// Bounded, so that a deadlock fails the test instead of hanging it.
			ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
			defer cancel()
			s := openBackend(t, c.dsn(t), c.conns)
			if err := s.Apply(ctx, []driver.Write{put(t, "old", "x", 1)}); err != nil {
				t.Fatal(err)
			}
			txs := make([]driver.Tx, c.conns)
			for i := range txs {
				tx, err := s.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback()
				if _, _, err := tx.Get(ctx, fmt.Sprint("tx", i)); err != nil {
					t.Fatal(err)
				}
				txs[i] = tx
			}

			writes := map[string]func() error{
				"Apply(set)":    func() error { return s.Apply(ctx, []driver.Write{put(t, "a", "1", 0)}) },
				"Apply(batch)":  func() error { return s.Apply(ctx, []driver.Write{put(t, "b", "1", 0), put(t, "c", "1", 0)}) },
				"Apply(delete)": func() error { return s.Apply(ctx, []driver.Write{{Key: "d", Delete: true}}) },
				"Sweep": func() error {
					_, _, err := s.Sweep(ctx, time.Now().UnixMilli(), 10)
					return err
				},
			}
			var wg sync.WaitGroup
			for name, w := range writes {
				wg.Go(func() {
					start := time.Now()
					err := w()
					if err != nil || time.Since(start) > slotWait {
						t.Errorf("%s = %v after %v", name, err, time.Since(start).Round(time.Millisecond))
					}
				})
			}
			time.Sleep(100 * time.Millisecond) // the writes queue for a connection, or run

			for i, tx := range txs {
				start := time.Now()
				err := tx.Commit(ctx, []driver.Write{put(t, fmt.Sprint("tx", i), "1", 0)})
				if took := time.Since(start); took > slotWait {
					t.Errorf("Commit of transaction %d took %v", i, took.Round(time.Millisecond))
				}
				// No transaction shares a key with anything. In memory the
				// first commits before the writes; a later one may lose to
				// a write committed after its snapshot, since SQLite cannot
				// tell keys apart.
				if err != nil && (i == 0 || c.writer || !errors.Is(err, driver.ErrStorageConflict)) {
					t.Errorf("Commit of transaction %d: %v", i, err)
				}
			}
			wg.Wait()
		})
	}
}

// TestSQLiteWritersUnderLoad runs transactions, writes, sweeps and reads
// from more goroutines than the pool has connections. No call may stall
// for the writer slot's timeout, and only commits may fail (with a
// conflict).
func TestSQLiteWritersUnderLoad(t *testing.T) {
	s := openBackend(t, filepath.Join(t.TempDir(), "load.db"), 2)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stop := time.Now().Add(1500 * time.Millisecond)
	var (
		wg                 sync.WaitGroup
		mu                 sync.Mutex
		commits, conflicts int
	)
	check := func(op string, start time.Time, err error) {
		if took := time.Since(start); took > slotWait {
			t.Errorf("%s took %v", op, took.Round(time.Millisecond))
		}
		if err != nil {
			t.Errorf("%s: %v", op, err)
		}
	}
	for g := range 12 {
		wg.Go(func() {
			for i := 0; time.Now().Before(stop); i++ {
				key := fmt.Sprintf("g%d:%d", g, rand.N(8))
				start := time.Now()
				switch (g + i) % 6 {
				case 0, 1:
					tx, err := s.Begin(ctx)
					if err != nil {
						check("Begin", start, err)
						continue
					}
					if _, _, err := tx.Get(ctx, key); err != nil {
						tx.Rollback()
						check("tx.Get", start, err)
						continue
					}
					time.Sleep(time.Duration(rand.N(3)) * time.Millisecond) // stay open a while
					err = tx.Commit(ctx, []driver.Write{put(t, key, "tx", 0)})
					mu.Lock()
					commits++
					if errors.Is(err, driver.ErrStorageConflict) {
						conflicts++
						err = nil
					}
					mu.Unlock()
					check("Commit", start, err)
				case 2:
					check("Apply(set)", start, s.Apply(ctx, []driver.Write{put(t, key, "set", time.Now().UnixMilli())}))
				case 3:
					k2 := fmt.Sprintf("g%d:x", g)
					ws := []driver.Write{put(t, key, "batch", 0), put(t, k2, "batch", 0)}
					if k2 < key {
						ws[0], ws[1] = ws[1], ws[0]
					}
					check("Apply(batch)", start, s.Apply(ctx, ws))
				case 4:
					_, _, err := s.Sweep(ctx, time.Now().UnixMilli(), 5)
					check("Sweep", start, err)
				case 5:
					_, _, err := s.Get(ctx, key)
					check("Get", start, err)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d commits, %d conflicts", commits, conflicts)
}

// TestTableNameCase: a table name that differs only in case from a table
// foxstore already keeps in the database is refused (SQLite, and MySQL on
// case-insensitive file systems, would make them one table); the table
// under its own name keeps working.
func TestTableNameCase(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		ctx := t.Context()
		a := tg.config(t)
		a.Database.Table = "Fxc_" + randomTable()[4:]
		b := a
		b.Database.Table = strings.ToLower(a.Database.Table)
		if tg.driver != "sqlite" {
			t.Cleanup(func() { dropTable(t, tg, a.Database.Table); dropTable(t, tg, b.Database.Table) })
		}
		sa := openCfg(t, a)
		if err := sa.Set(ctx, "k", "in "+a.Database.Table, 0); err != nil {
			t.Fatal(err)
		}
		_, err := foxstore.Open(ctx, b)
		if foxstore.CodeOf(err) != foxstore.CodeInvalid || !strings.Contains(err.Error(), a.Database.Table) {
			t.Fatalf("Open of table %s next to %s = %v, want code %d naming %s",
				b.Database.Table, a.Database.Table, err, foxstore.CodeInvalid, a.Database.Table)
		}
		again := openCfg(t, a)
		if v, err := again.Get(ctx, "k"); err != nil || v != "in "+a.Database.Table {
			t.Errorf("reopened %s: Get = %v, %v", a.Database.Table, v, err)
		}
		if tg.driver != "sqlite" {
			return
		}
		// Both names recorded, by a foxstore that let them in: they keep
		// opening (on SQLite they have always been one table).
		raw, err := database.OpenSQL("sqlite", a.Database.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		if _, err := raw.ExecContext(ctx, "INSERT INTO foxstore_meta (tbl, version) VALUES (?, 1)", b.Database.Table); err != nil {
			t.Fatal(err)
		}
		sb := openCfg(t, b)
		if v, err := sb.Get(ctx, "k"); err != nil || v != "in "+a.Database.Table {
			t.Errorf("legacy %s: Get = %v, %v", b.Database.Table, v, err)
		}
	})
}

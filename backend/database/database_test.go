package database_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/backend/database"
	"github.com/foxstore/foxstore/driver"
)

// TestInjection sends SQL through every way in: keys, values, patterns and
// the table name. Keys and values are bound parameters and patterns are
// matched in Go, so they are stored and found as the bytes they are; table
// names are checked and quoted.
func TestInjection(t *testing.T) {
	hostile := []string{
		`'; DROP TABLE foxstore_meta; --`,
		`" OR 1=1 --`,
		"`; DELETE FROM x; #",
		`\'; SELECT 1; --`,
		`%`, `_`, `a%b_c`, `k' OR 'a'='a`,
		"\\", "\\\\'", "ʼ OR 1=1", "$1", "?", ":name", "@v",
	}
	eachTarget(t, func(t *testing.T, tg target) {
		ctx := t.Context()
		st := tg.open(t)
		for i, k := range hostile {
			if err := st.Set(ctx, k, k+" value", 0); err != nil {
				t.Fatalf("Set(%q): %v", k, err)
			}
			if err := st.Set(ctx, "plain:"+k, i, 0); err != nil {
				t.Fatalf("Set(plain:%q): %v", k, err)
			}
		}
		for _, k := range hostile {
			if v, err := st.Get(ctx, k); err != nil || v != k+" value" {
				t.Errorf("Get(%q) = %v, %v", k, v, err)
			}
		}
		all, err := st.Keys(ctx, "*")
		if err != nil || len(all) != 2*len(hostile) {
			t.Fatalf("Keys(*) = %d keys, %v; want %d", len(all), err, 2*len(hostile))
		}
		// LIKE wildcards mean nothing to the store: % and _ are literals.
		for _, c := range []struct {
			pattern string
			want    []string
		}{
			{"%", []string{"%"}},
			{"_", []string{"_"}},
			{"a%b_c", []string{"a%b_c"}},
			{"plain:%*", []string{"plain:%"}},
			{"plain:'*", []string{"plain:'; DROP TABLE foxstore_meta; --"}},
			{"k' OR *", []string{"k' OR 'a'='a"}},
			{`\\*`, []string{"\\", "\\\\'", `\'; SELECT 1; --`}},
		} {
			got, err := st.Keys(ctx, c.pattern)
			want := slices.Sorted(slices.Values(c.want))
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("Keys(%q) = %q, %v; want %q", c.pattern, got, err, want)
			}
		}
		m, err := st.GetBatch(ctx, hostile)
		if err != nil || len(m) != len(hostile) {
			t.Errorf("GetBatch = %d entries, %v", len(m), err)
		}
		if err := st.DeleteBatch(ctx, hostile); err != nil {
			t.Fatal(err)
		}
		if n, err := st.Count(ctx, "*"); err != nil || n != len(hostile) {
			t.Errorf("Count after DeleteBatch = %d, %v; want %d", n, err, len(hostile))
		}

		// Table names: hostile ones are refused before any SQL runs, by the
		// configuration and by the backend itself.
		for _, name := range []string{"kv; DROP TABLE foxstore_meta", `kv"`, "kv`", "kv--", "1kv", "", "foxstore_meta", strings.Repeat("t", 64)} {
			cfg := tg.config(t)
			cfg.Database.Table = name
			if name == "" {
				cfg.Database.Table = " "
			}
			if _, err := foxstore.Open(ctx, cfg); foxstore.CodeOf(err) != foxstore.CodeInvalid {
				t.Errorf("Open with table %q = %v, want code %d", name, err, foxstore.CodeInvalid)
			}
			dc := driver.DefaultConfig()
			dc.Database = cfg.Database
			if _, err := database.Open(ctx, dc); driver.CodeOf(err) != driver.CodeInvalid {
				t.Errorf("database.Open with table %q = %v, want code %d", name, err, driver.CodeInvalid)
			}
		}
		// Reserved words and mixed case are fine: names are always quoted.
		for _, name := range []string{"select", "Mixed_Case_" + randomTable()[4:]} {
			cfg := tg.config(t)
			cfg.Database.Table = name
			if tg.driver != "sqlite" {
				t.Cleanup(func() { dropTable(t, tg, name) })
			}
			s := openCfg(t, cfg)
			if err := s.Set(ctx, "k", "v", 0); err != nil {
				t.Errorf("table %q: Set: %v", name, err)
			}
			if v, err := s.Get(ctx, "k"); err != nil || v != "v" {
				t.Errorf("table %q: Get = %v, %v", name, v, err)
			}
		}
		// The meta table survived all of the above.
		if _, err := st.Keys(ctx, "*"); err != nil {
			t.Errorf("store broken after the injection attempts: %v", err)
		}
	})
}

// TestTwoStoresSharePostgres checks that a write through one store is seen
// by another store on the same table once cache_ttl has passed (CONTRACT
// §9: across processes a cached value is never older than cache_ttl).
func TestTwoStoresSharePostgres(t *testing.T) {
	tg := serverTarget(t, "postgres")
	ctx := t.Context()
	const ttl = 200 * time.Millisecond
	cfg := tg.config(t)
	cfg.CacheSize, cfg.CacheTTL = 100, ttl
	a, b := openCfg(t, cfg), openCfg(t, cfg)

	if err := a.Set(ctx, "song:1", "v1", 0); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Get(ctx, "song:1"); err != nil || v != "v1" {
		t.Fatalf("b.Get = %v, %v; want v1", v, err)
	}
	if _, err := b.Get(ctx, "song:2"); foxstore.CodeOf(err) != foxstore.CodeNotFound {
		t.Fatalf("b.Get(song:2) = %v, want not found", err)
	}
	// b now caches song:1 = v1 and the absence of song:2.
	if err := a.Set(ctx, "song:1", "v2", 0); err != nil {
		t.Fatal(err)
	}
	if err := a.Set(ctx, "song:2", "new", 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl)
	if v, err := b.Get(ctx, "song:1"); err != nil || v != "v2" {
		t.Errorf("b.Get(song:1) a cache_ttl after a's write = %v, %v; want v2", v, err)
	}
	if v, err := b.Get(ctx, "song:2"); err != nil || v != "new" {
		t.Errorf("b.Get(song:2) a cache_ttl after a's write = %v, %v; want new", v, err)
	}
	// Uncached reads and batches see the other store's writes at once.
	if err := b.Delete(ctx, "song:1"); err != nil {
		t.Fatal(err)
	}
	if keys, err := a.Keys(ctx, "song:*"); err != nil || !slices.Equal(keys, []string{"song:2"}) {
		t.Errorf("a.Keys after b's delete = %q, %v", keys, err)
	}
	// Transactions in both stores serialize.
	if err := a.Set(ctx, "n", 0, 0); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	for _, s := range []foxstore.StoragePlugin{a, b} {
		go func() {
			var err error
			for range 20 {
				if err = foxstore.Update(ctx, s, func(tx foxstore.Transaction) error {
					v, err := tx.Get("n")
					if err != nil {
						return err
					}
					return tx.Set("n", v.(int)+1)
				}); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(ttl)
	if v, err := a.Get(ctx, "n"); err != nil || v != 40 {
		t.Errorf("n after 2x20 increments from two stores = %v, %v; want 40", v, err)
	}
}

// TestNoSecretInErrors opens servers that are not there with a DSN holding
// a password: the error says what failed, without the password or the DSN.
func TestNoSecretInErrors(t *testing.T) {
	const secret = "TopSecret-9f1c"
	for _, c := range []struct{ driver, dsn string }{
		{"postgres", "postgres://fox:" + secret + "@127.0.0.1:1/test?sslmode=disable&connect_timeout=5"},
		{"postgres", "host=127.0.0.1 port=1 user=fox password=" + secret + " dbname=test sslmode=disable"},
		{"postgres", "postgres://fox:" + secret + "@127.0.0.1:1/test?sslmode=bogus"},
		{"mysql", "fox:" + secret + "@tcp(127.0.0.1:1)/test?timeout=5s"},
		{"mysql", "fox:" + secret + "@tcp(127.0.0.1:1)/test?unknownParam=%zz"},
	} {
		cfg := foxstore.Config{Backend: "database", Database: driver.DatabaseConfig{Driver: c.driver, DSN: c.dsn}}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		_, err := foxstore.Open(ctx, cfg)
		cancel()
		if err == nil {
			t.Errorf("%s: Open of a server that is not there succeeded", c.driver)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), c.dsn) {
			t.Errorf("%s: error shows the password or the DSN: %v", c.driver, err)
		}
		if code := foxstore.CodeOf(err); code != foxstore.CodeReadFailed && code != foxstore.CodeInvalid {
			t.Errorf("%s: Open error code %d: %v", c.driver, code, err)
		}
	}
}

// TestSQLiteDefaultFile checks the default database file: in the user data
// directory, directory 0700, files 0600.
func TestSQLiteDefaultFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the XDG layout and file modes are checked on Linux")
	}
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", dir)
	st := openCfg(t, foxstore.Config{Backend: "database"})
	if err := st.Set(t.Context(), "k", "v", 0); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "foxstore", "storage.db")
	for path, want := range map[string]os.FileMode{
		filepath.Dir(db): 0o700 | os.ModeDir,
		db:               0o600,
		db + "-wal":      0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
}

// TestSchemaVersion checks that data survives a reopen and that a table
// written by a newer foxstore is refused rather than misread.
func TestSchemaVersion(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "s.db")
	cfg := foxstore.Config{Backend: "database", Database: driver.DatabaseConfig{DSN: path, Table: "kv"}}
	st := openCfg(t, cfg)
	if err := st.Set(ctx, "k", "durable", 0); err != nil {
		t.Fatal(err)
	}
	st.(interface{ Close() error }).Close()

	st = openCfg(t, cfg)
	if v, err := st.Get(ctx, "k"); err != nil || v != "durable" {
		t.Fatalf("after reopen: Get = %v, %v", v, err)
	}
	st.(interface{ Close() error }).Close()

	raw, err := database.OpenSQL("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var v int
	if err := raw.QueryRowContext(ctx, "SELECT version FROM foxstore_meta WHERE tbl = 'kv'").Scan(&v); err != nil || v != 1 {
		t.Fatalf("schema version = %d, %v; want 1", v, err)
	}
	if _, err := raw.ExecContext(ctx, "UPDATE foxstore_meta SET version = 99 WHERE tbl = 'kv'"); err != nil {
		t.Fatal(err)
	}
	_, err = foxstore.Open(ctx, cfg)
	if foxstore.CodeOf(err) != foxstore.CodeInvalid || !strings.Contains(err.Error(), "version 99") {
		t.Errorf("Open of a newer schema = %v, want code %d naming version 99", err, foxstore.CodeInvalid)
	}

	// A table that is not foxstore's is refused, not used.
	if _, err := raw.ExecContext(ctx, "CREATE TABLE other (id INTEGER PRIMARY KEY, name TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, "INSERT INTO foxstore_meta (tbl, version) VALUES ('other', 1)"); err != nil {
		t.Fatal(err)
	}
	cfg.Database.Table = "other"
	if _, err := foxstore.Open(ctx, cfg); err == nil || !strings.Contains(err.Error(), "columns") {
		t.Errorf("Open of a foreign table = %v, want an error about its columns", err)
	}
}

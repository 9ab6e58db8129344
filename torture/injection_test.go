package torture_test

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/backend/database"
	"github.com/foxstore/foxstore/pattern"
)

// TestSecuritySQLInjection aims SQL at a victim table through every way into
// the database backend: keys, values, patterns, namespace names and table
// names, fixed ones and random ones made of SQL metacharacters. The oracle
// is the victim itself: after all of it, it still exists and still holds
// its one row, and the store answers every read as a model says.
func TestSecuritySQLInjection(t *testing.T) {
	for _, drv := range []string{"sqlite", "postgres", "mysql"} {
		t.Run(drv, func(t *testing.T) {
			ctx := t.Context()
			var cfg foxstore.Config
			switch drv {
			case "sqlite":
				cfg = sqliteConfig(t.TempDir())
				cfg.Database.Table = randomName("fxinj_")
			case "postgres":
				cfg = serverConfig(t, drv, serverEnv(t, envPostgres, "a PostgreSQL DSN"))
			case "mysql":
				cfg = serverConfig(t, drv, serverEnv(t, envMySQL, "a MySQL/MariaDB DSN"))
			}
			db, err := database.OpenSQL(drv, cfg.Database.DSN)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			victim := randomName("victim_")
			if _, err := db.ExecContext(ctx, "CREATE TABLE "+victim+" (n INTEGER)"); err != nil {
				t.Fatal(err)
			}
			// Runs before the Close above.
			t.Cleanup(func() {
				if _, err := db.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+victim); err != nil {
					t.Errorf("dropping %s: %v", victim, err)
				}
			})
			if _, err := db.ExecContext(ctx, "INSERT INTO "+victim+" (n) VALUES (42)"); err != nil {
				t.Fatal(err)
			}

			attacks := []string{
				"'; DROP TABLE " + victim + "; --",
				"\"; DROP TABLE " + victim + "; --",
				"`; DROP TABLE " + victim + "; #",
				"x') ; DELETE FROM " + victim + " WHERE ('1'='1",
				"' OR '1'='1", "\\'; DROP TABLE " + victim + "; --", "%' OR k LIKE '%",
				"$1", "?", "??", ":k", "@k", "/*", "*/", "--", "\\", "%", "_", "'",
			}
			rng := rand.New(rand.NewPCG(seedOf(t), 3))
			for range 20 {
				if a := hostile(rng, 8); !slices.Contains(attacks, a) {
					attacks = append(attacks, a)
				}
			}

			st := openCfg(t, cfg)
			ns := foxstore.WithNamespace(st, "'; DROP TABLE "+victim+"; --")
			model := map[string]string{}
			for i, a := range attacks {
				if err := st.Set(ctx, a, a, 0); err != nil {
					t.Fatalf("Set(%q): %v", a, err)
				}
				if err := ns.Set(ctx, a, "ns "+a, 0); err != nil {
					t.Fatalf("Set(%q) in a hostile namespace: %v", a, err)
				}
				model[a] = a
				if i%3 == 0 {
					err := foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
						if _, err := tx.Get(a); err != nil {
							return err
						}
						return tx.Set(a+a, a)
					})
					if err != nil {
						t.Fatalf("Update with %q: %v", a, err)
					}
					model[a+a] = a
				}
			}
			for _, p := range append(slices.Clone(attacks), "*", "*'*", "*%*", "*_*", "*\\\\*") {
				got, err := st.Keys(ctx, p)
				cp, cerr := pattern.Compile(p)
				if cerr != nil {
					if !errors.Is(err, foxstore.ErrStorageInvalid) {
						t.Errorf("Keys(%q) of a malformed pattern: %v", p, err)
					}
					continue
				}
				var want []string
				for k := range model {
					if cp.Match(k) {
						want = append(want, k)
					}
				}
				slices.Sort(want)
				if err != nil || !slices.Equal(got, want) && len(got)+len(want) > 0 {
					t.Errorf("Keys(%q) = %q, %v; want %q", p, got, err, want)
				}
			}
			m, err := st.GetBatch(ctx, attacks)
			if err != nil || len(m) != len(attacks) {
				t.Errorf("GetBatch of the attacks: %d values, %v", len(m), err)
			}
			if err := st.DeleteBatch(ctx, attacks); err != nil {
				t.Errorf("DeleteBatch of the attacks: %v", err)
			}
			if n, err := ns.Count(ctx, "*"); err != nil || n != len(attacks) {
				t.Errorf("the hostile namespace holds %d keys, %v; want %d", n, err, len(attacks))
			}

			// Table names: refused, or used as exactly that name.
			tables := []string{
				victim + "; DROP TABLE " + victim, victim + "\"", victim + "`", victim + "'", victim + " --",
				"x; DROP TABLE " + victim, victim + "/*", "a b", "\"" + victim + "\"",
			}
			for len(tables) < 19 {
				// Only names the contract refuses: letters, digits and _
				// make a valid name, which Open would create.
				if name := hostile(rng, 6); strings.Trim(name, "ab_") != "" {
					tables = append(tables, name)
				}
			}
			for _, name := range tables {
				c := cfg
				c.Database.Table = name
				s, err := foxstore.Open(ctx, c)
				if err != nil {
					if !errors.Is(err, foxstore.ErrStorageInvalid) {
						t.Errorf("Open with table %q: %v, want ErrStorageInvalid", name, err)
					}
					continue
				}
				t.Errorf("Open with table %q was accepted; CONTRACT §12 allows letters, digits and _", name)
				s.(interface{ Close() error }).Close()
				if drv != "sqlite" {
					dropTable(t, drv, cfg.Database.DSN, name)
				}
			}

			var n int
			ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := db.QueryRowContext(ctx2, "SELECT n FROM "+victim).Scan(&n); err != nil || n != 42 {
				t.Errorf("the victim table after the attacks: n = %d, %v", n, err)
			}
			if errors.Is(err, sql.ErrNoRows) {
				t.Error("the victim table was emptied")
			}
			t.Logf("%d keys, %d patterns and %d table names tried", len(model), len(attacks)+5, len(tables))
		})
	}
}

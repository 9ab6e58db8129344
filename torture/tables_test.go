package torture_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foxstore/foxstore"
)

// TestSecurityTableNames opens two stores whose table names differ only in
// case ("Fx_..." and "fx_..."), on one database: each must see only its own
// keys, or the second must be refused. A store must never read or write
// another table than the one configured.
//
// SQLite fails it: TestBug_SQLiteTableNamesIgnoreCase.
func TestSecurityTableNames(t *testing.T) {
	for _, drv := range []string{"postgres", "mysql"} {
		t.Run(drv, func(t *testing.T) { checkTableCase(t, drv) })
	}
}

// TestBug_SQLiteTableNamesIgnoreCase: SQLite compares table names without
// regard to case, so stores configured with database.table "FXcase_1" and
// "fxcase_1" on one database file share one table: each reads and
// overwrites the other's keys. Configurations that name different tables
// must not share data (or the second must be refused).
func TestBug_SQLiteTableNamesIgnoreCase(t *testing.T) {
	checkTableCase(t, "sqlite")
}

func checkTableCase(t *testing.T, drv string) {
	ctx := t.Context()
	lower := randomName("fxcase_")
	upper := "FX" + lower[2:]
	var a, b foxstore.Config
	switch drv {
	case "sqlite":
		dsn := filepath.Join(t.TempDir(), "two.db")
		a, b = sqliteConfig(""), sqliteConfig("")
		a.Database.DSN, b.Database.DSN = dsn, dsn
		a.Database.Table, b.Database.Table = upper, lower
	case "postgres", "mysql":
		env := map[string]string{"postgres": envPostgres, "mysql": envMySQL}[drv]
		dsn := serverEnv(t, env, "a "+drv+" DSN")
		a, b = serverConfig(t, drv, dsn), serverConfig(t, drv, dsn)
		a.Database.Table, b.Database.Table = upper, lower
		t.Cleanup(func() { dropTable(t, drv, dsn, upper); dropTable(t, drv, dsn, lower) })
	}
	a.CacheSize, b.CacheSize = 0, 0
	sa := openCfg(t, a)
	if err := sa.Set(ctx, "k", "in "+upper, 0); err != nil {
		t.Fatal(err)
	}
	sb, err := foxstore.Open(ctx, b)
	if err != nil {
		t.Logf("the second table name is refused: %v", err)
		return
	}
	defer sb.(interface{ Close() error }).Close()
	if v, err := sb.Get(ctx, "k"); !errors.Is(err, foxstore.ErrStorageNotFound) {
		t.Errorf("store on table %s reads the key of table %s: %v, %v", lower, upper, v, err)
	}
	if err := sb.Set(ctx, "k", "in "+lower, 0); err != nil {
		t.Fatalf("Set on table %s: %v", lower, err)
	}
	if v, err := sa.Get(ctx, "k"); err != nil || v != "in "+upper {
		t.Errorf("after a write to table %s, table %s holds %v, %v: they are one table", lower, upper, v, err)
	}
	if !strings.EqualFold(upper, lower) {
		t.Fatal("the names must differ only in case")
	}
}

package torture_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/backend/database"
	_ "github.com/foxstore/foxstore/backend/redis"
	goredis "github.com/redis/go-redis/v9"
)

// The server backends run when these variables are set (.ci/run sets them).
const (
	envPostgres = "FOXSTORE_TEST_POSTGRES" // postgres://postgres@127.0.0.1:5432/test?sslmode=disable
	envMySQL    = "FOXSTORE_TEST_MYSQL"    // root@tcp(127.0.0.1:3306)/test
	envRedis    = "FOXSTORE_TEST_REDIS"    // 127.0.0.1:6379
)

// serverEnv returns the variable's value or skips the test naming it.
func serverEnv(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("set %s to %s to run this test", name, what)
	}
	return v
}

func randomName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// openCfg opens a store and closes it when t ends.
func openCfg(t testing.TB, cfg foxstore.Config) foxstore.StoragePlugin {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := foxstore.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg.Backend, err)
	}
	t.Cleanup(func() { s.(io.Closer).Close() })
	return s
}

func fileConfig(dir string, async bool) foxstore.Config {
	return foxstore.Config{
		Backend:       "file",
		FilePath:      filepath.Join(dir, "store.json"),
		AsyncWrite:    async,
		FlushInterval: 20 * time.Millisecond,
	}
}

func newFile(async bool) func(t *testing.T) foxstore.StoragePlugin {
	return func(t *testing.T) foxstore.StoragePlugin {
		return openCfg(t, fileConfig(t.TempDir(), async))
	}
}

func sqliteConfig(dir string) foxstore.Config {
	return foxstore.Config{
		Backend:  "database",
		Database: foxstore.DatabaseConfig{Driver: "sqlite", DSN: filepath.Join(dir, "store.db")},
	}
}

func newSQLite(t *testing.T) foxstore.StoragePlugin {
	return openCfg(t, sqliteConfig(t.TempDir()))
}

// serverConfig returns a configuration for a fresh table on a PostgreSQL
// or MariaDB server (dsn), and drops the table when t ends.
func serverConfig(t testing.TB, drv, dsn string) foxstore.Config {
	t.Helper()
	table := randomName("fxtorture_")
	t.Cleanup(func() { dropTable(t, drv, dsn, table) })
	return foxstore.Config{
		Backend:  "database",
		Database: foxstore.DatabaseConfig{Driver: drv, DSN: dsn, Table: table},
	}
}

func dropTable(t testing.TB, drv, dsn, table string) {
	db, err := database.OpenSQL(drv, dsn)
	if err != nil {
		t.Logf("dropping %s: %v", table, err)
		return
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	drop, meta := `DROP TABLE IF EXISTS "`+table+`"`, `DELETE FROM foxstore_meta WHERE tbl = $1`
	if drv == "mysql" {
		drop, meta = "DROP TABLE IF EXISTS `"+table+"`", `DELETE FROM foxstore_meta WHERE tbl = ?`
	}
	if _, err := db.ExecContext(ctx, drop); err != nil {
		t.Logf("dropping %s: %v", table, err)
	}
	// The backend keeps a row per table in foxstore_meta; an error here
	// only means it keeps none.
	db.ExecContext(ctx, meta, table)
}

func newPostgres(t *testing.T) foxstore.StoragePlugin {
	dsn := serverEnv(t, envPostgres, "a PostgreSQL DSN")
	return openCfg(t, serverConfig(t, "postgres", dsn))
}

func newMySQL(t *testing.T) foxstore.StoragePlugin {
	dsn := serverEnv(t, envMySQL, "a MySQL/MariaDB DSN")
	return openCfg(t, serverConfig(t, "mysql", dsn))
}

// redisConfig returns a configuration for a fresh namespace on the Redis
// server at addr; cleanRedis removes its keys.
func redisConfig(addr string) foxstore.Config {
	return foxstore.Config{
		Backend:   "redis",
		Namespace: randomName("fxtorture-"),
		Redis:     foxstore.RedisConfig{Addrs: []string{addr}},
	}
}

func newRedis(t *testing.T) foxstore.StoragePlugin {
	addr := serverEnv(t, envRedis, "a Redis address")
	cfg := redisConfig(addr)
	s := openCfg(t, cfg)
	// Registered after openCfg's Close, so it runs before it.
	t.Cleanup(func() { cleanRedis(t, cfg) })
	return s
}

// cleanRedis deletes every key of cfg's namespace, nested namespaces
// included, which the store's own methods cannot reach: it scans the server
// for the namespace's encoded prefix (0xFF, the name, NUL: see the front's
// namespace.go).
func cleanRedis(t testing.TB, cfg foxstore.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := goredis.NewClient(&goredis.Options{Addr: cfg.Redis.Addrs[0], DisableIdentity: true})
	defer c.Close()
	// The names are fxtorture-<hex>: nothing in them is a glob character.
	iter := c.Scan(ctx, 0, "\xff"+cfg.Namespace+"\x00*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	err := iter.Err()
	for len(keys) > 0 && err == nil {
		n := min(len(keys), 1000)
		err = c.Del(ctx, keys[:n]...).Err()
		keys = keys[n:]
	}
	if err != nil {
		t.Logf("cleaning up namespace %s: %v", cfg.Namespace, err)
	}
}

// eachBackend runs fn as a subtest per backend, each with a function that
// opens a fresh, empty store; the server backends skip without their
// variable.
func eachBackend(t *testing.T, fn func(t *testing.T, newStore func(*testing.T) foxstore.StoragePlugin)) {
	for _, b := range []struct {
		name     string
		newStore func(*testing.T) foxstore.StoragePlugin
	}{
		{"memory", newMemory},
		{"file", newFile(false)},
		{"sqlite", newSQLite},
		{"postgres", newPostgres},
		{"mysql", newMySQL},
		{"redis", newRedis},
	} {
		t.Run(b.name, func(t *testing.T) { fn(t, b.newStore) })
	}
}

package torture_test

import (
	"net/url"
	"regexp"
	"testing"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/torture"
)

// Connection cuts (issue 7 §3): every workload runs on a server backend
// through a proxy that severs every connection at random moments. Writes
// that fail are indeterminate; every acknowledged one must still be there,
// transactions must stay serializable, and the store must carry on once the
// cuts stop.

// cutWorkloads runs every workload through p, cutting its connections.
// linBug, if not empty, is a known bug that makes Linearizable fail.
func cutWorkloads(t *testing.T, p *torture.Proxy, newStore func(*testing.T) foxstore.StoragePlugin, linBug string) {
	opts := torture.Options{Fault: p.Cut}
	t.Run("Linearizable", func(t *testing.T) {
		if linBug != "" {
			knownBug(t, linBug)
		}
		torture.Linearizable(t, newStore, opts)
	})
	t.Run("Bank", func(t *testing.T) { torture.Bank(t, newStore, opts) })
	t.Run("Append", func(t *testing.T) { torture.Append(t, newStore, opts) })
	t.Run("Set", func(t *testing.T) { torture.Set(t, newStore, opts) })
	t.Logf("%d connections cut in all", p.Cuts())
	if p.Cuts() == 0 {
		t.Error("no connection was cut: the fault was never injected")
	}
}

// pgThrough rewrites a PostgreSQL URL DSN to go through addr.
func pgThrough(t *testing.T, dsn, addr string) (target, proxied string) {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Skipf("%s is not a postgres:// URL with a host: cannot put a proxy in front of it", envPostgres)
	}
	target = u.Host
	if u.Port() == "" {
		target += ":5432"
	}
	u.Host = addr
	return target, u.String()
}

var mysqlAddr = regexp.MustCompile(`@tcp\(([^)]*)\)`)

// mysqlThrough rewrites a go-sql-driver/mysql DSN to go through addr.
func mysqlThrough(t *testing.T, dsn, addr string) (target, proxied string) {
	m := mysqlAddr.FindStringSubmatchIndex(dsn)
	if m == nil {
		t.Skipf("%s has no @tcp(host:port) part: cannot put a proxy in front of it", envMySQL)
	}
	return dsn[m[2]:m[3]], dsn[:m[2]] + addr + dsn[m[3]:]
}

func TestPostgresConnectionCuts(t *testing.T) {
	dsn := serverEnv(t, envPostgres, "a PostgreSQL DSN")
	target, _ := pgThrough(t, dsn, "")
	p := torture.NewProxy(t, target)
	_, proxied := pgThrough(t, dsn, p.Addr())
	cutWorkloads(t, p, func(t *testing.T) foxstore.StoragePlugin {
		cfg := serverConfig(t, "postgres", dsn)
		cfg.Database.DSN = proxied
		return openCfg(t, cfg)
	}, "")
}

func TestMySQLConnectionCuts(t *testing.T) {
	dsn := serverEnv(t, envMySQL, "a MySQL/MariaDB DSN")
	target, _ := mysqlThrough(t, dsn, "")
	p := torture.NewProxy(t, target)
	_, proxied := mysqlThrough(t, dsn, p.Addr())
	cutWorkloads(t, p, func(t *testing.T) foxstore.StoragePlugin {
		cfg := serverConfig(t, "mysql", dsn)
		cfg.Database.DSN = proxied
		return openCfg(t, cfg)
	}, "")
}

func TestRedisConnectionCuts(t *testing.T) {
	addr := serverEnv(t, envRedis, "a Redis address")
	p := torture.NewProxy(t, addr)
	cutWorkloads(t, p, func(t *testing.T) foxstore.StoragePlugin {
		cfg := redisConfig(p.Addr())
		s := openCfg(t, cfg)
		direct := cfg
		direct.Redis.Addrs = []string{addr}
		t.Cleanup(func() { cleanRedis(t, direct) })
		return s
	}, "")
}

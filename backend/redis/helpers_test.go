package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/foxstore/foxstore"
)

// The tests run against real servers named by these variables, and skip
// without them.
const (
	envRedis   = "FOXSTORE_TEST_REDIS"         // one address, e.g. 127.0.0.1:6379
	envCluster = "FOXSTORE_TEST_REDIS_CLUSTER" // comma-separated masters, e.g. 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003
)

func singleAddrs(t testing.TB) []string {
	t.Helper()
	a := os.Getenv(envRedis)
	if a == "" {
		t.Skipf("set %s to a Redis address (e.g. 127.0.0.1:6379) to run this test", envRedis)
	}
	return []string{a}
}

func clusterAddrs(t testing.TB) []string {
	t.Helper()
	a := os.Getenv(envCluster)
	if a == "" {
		t.Skipf("set %s to the comma-separated addresses of a Redis Cluster (see .ci/redis-cluster.sh) to run this test", envCluster)
	}
	return strings.Split(a, ",")
}

// randomName returns a namespace name no other run uses.
func randomName(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// openStore opens a foxstore store on addrs under a fresh namespace and
// removes every key of that namespace (nested ones included) at the end.
func openStore(t testing.TB, addrs []string, ns string, edit ...func(*foxstore.Config)) foxstore.Store {
	t.Helper()
	cfg := foxstore.Config{Backend: "redis", Namespace: ns, Redis: foxstore.RedisConfig{Addrs: addrs}}
	for _, f := range edit {
		f(&cfg)
	}
	st, err := foxstore.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		st.(foxstore.Store).Close()
		purge(t, addrs, nsPrefix(ns))
	})
	return st.(foxstore.Store)
}

// nsPrefix is how the front prefixes the keys of namespace ns (see the
// front's namespace.go): 0xFF, the name, NUL.
func nsPrefix(ns string) string { return "\xff" + ns + "\x00" }

// rawClient returns a plain go-redis client for checking what the backend
// wrote.
func rawClient(t testing.TB, addrs []string) goredis.UniversalClient {
	t.Helper()
	c := goredis.NewUniversalClient(&goredis.UniversalOptions{Addrs: addrs, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// purge deletes every key that starts with prefix.
func purge(t testing.TB, addrs []string, prefix string) {
	t.Helper()
	ctx := context.Background()
	c := goredis.NewUniversalClient(&goredis.UniversalOptions{Addrs: addrs, DisableIdentity: true})
	defer c.Close()
	del := func(ctx context.Context, node *goredis.Client) error {
		iter := node.Scan(ctx, 0, escapeGlob(prefix)+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return err
		}
		_, err := node.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, k := range keys {
				p.Del(ctx, k)
			}
			return nil
		})
		return err
	}
	var err error
	if cc, ok := c.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, del)
	} else {
		err = del(ctx, c.(*goredis.Client))
	}
	if err != nil {
		t.Errorf("cleaning up keys %q*: %v", prefix, err)
	}
}

// target is a Redis deployment to test against.
type target struct {
	name    string
	addrs   []string
	cluster bool
}

// targets returns the deployments named by the environment, skipping t if
// there are none.
func targets(t *testing.T) []target {
	t.Helper()
	var ts []target
	if a := os.Getenv(envRedis); a != "" {
		ts = append(ts, target{"single", []string{a}, false})
	}
	if a := os.Getenv(envCluster); a != "" {
		ts = append(ts, target{"cluster", strings.Split(a, ","), true})
	}
	if len(ts) == 0 {
		t.Skipf("set %s and/or %s to run this test against Redis", envRedis, envCluster)
	}
	return ts
}

// forEachTarget runs fn as a subtest per deployment.
func forEachTarget(t *testing.T, fn func(t *testing.T, tg target)) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) { fn(t, tg) })
	}
}

// openBackend opens the backend itself, without the front.
func openBackend(t testing.TB, addrs []string) *Store {
	t.Helper()
	cfg := foxstore.Config{Redis: foxstore.RedisConfig{Addrs: addrs}}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

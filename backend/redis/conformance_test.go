package redis

import (
	"os"
	"testing"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/storagetest"
)

// withCache turns the front's read cache on, at its YAML default size.
func withCache(c *foxstore.Config) { c.CacheSize = foxstore.DefaultConfig().CacheSize }

// TestConformance runs the whole contract against one Redis server, each
// store in a namespace of its own that is removed afterwards, with and
// without the front's read cache.
func TestConformance(t *testing.T) {
	addrs := singleAddrs(t)
	t.Run("NoCache", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) foxstore.StoragePlugin {
			return openStore(t, addrs, randomName("fx-"))
		})
	})
	t.Run("Cache", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) foxstore.StoragePlugin {
			return openStore(t, addrs, randomName("fx-"), withCache)
		})
	})
}

// TestConformanceCluster runs the whole contract against a Redis Cluster
// under the documented rule: keys written together share a hash slot. Each
// store's namespace holds a hash tag, which puts all its keys in one slot,
// so every batch and transaction of the suite is allowed. Which master holds
// them varies from store to store.
func TestConformanceCluster(t *testing.T) {
	addrs := clusterAddrs(t)
	storagetest.Run(t, func(t *testing.T) foxstore.StoragePlugin {
		return openStore(t, addrs, "{"+randomName("fx-")+"}", withCache)
	})
}

// TestConformanceClusterSpread runs the suite with keys spread over every
// slot. Tests that write several keys at once are expected to fail with
// ErrStorageInvalid there; it runs only when asked for.
func TestConformanceClusterSpread(t *testing.T) {
	addrs := clusterAddrs(t)
	if os.Getenv("FOXSTORE_TEST_REDIS_CLUSTER_SPREAD") == "" {
		t.Skip("set FOXSTORE_TEST_REDIS_CLUSTER_SPREAD=1 to run the suite with keys over all slots (cross-slot batches and transactions fail by design)")
	}
	storagetest.Run(t, func(t *testing.T) foxstore.StoragePlugin {
		return openStore(t, addrs, randomName("fx-"))
	})
}

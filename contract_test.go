package foxstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/storagetest"
)

// TestContractReadCache runs the contract with the read cache in front of a
// backend: "cached-memory" is the memory backend declared non-resident. It
// covers the front's cache paths (fill, invalidation on every kind of write,
// statistics) that the database and redis backends take, without a server.
func TestContractReadCache(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) foxstore.StoragePlugin {
		return open(t, foxstore.Config{Backend: "cached-memory", CacheSize: 1000})
	})
}

// TestReadCacheServesGets checks that Gets of a store with a read cache go
// through it, whatever the key's shape: the front has a quicker path for a
// Get of an 8-to-16-byte key that must not bypass the cache. A Get that
// bypassed it would leave it empty.
func TestReadCacheServesGets(t *testing.T) {
	ctx := t.Context()
	for _, key := range []string{"k", "user:00000001", strings.Repeat("k", 40)} {
		st := open(t, foxstore.Config{Backend: "cached-memory", CacheSize: 10, CacheTTL: time.Hour})
		if err := st.Set(ctx, key, "v", 0); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if v, err := st.Get(ctx, key); v != "v" || err != nil {
				t.Fatalf("Get(%q) = %v, %v", key, v, err)
			}
		}
		cs, err := st.GetCacheStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The first Get missed the cache and filled it; the second hit it.
		if cs.Entries != 1 || cs.Hits != 1 || cs.Misses != 1 {
			t.Errorf("key %q: after two Gets the cache holds %d entries and counts %d hits and %d misses; want 1, 1 and 1",
				key, cs.Entries, cs.Hits, cs.Misses)
		}
	}
}

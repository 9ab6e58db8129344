package foxstore_test

import (
	"testing"

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

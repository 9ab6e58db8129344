package redis

import (
	"testing"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/storagetest"
)

// TestConformance runs the whole contract against one Redis server, each
// store in a namespace of its own that is removed afterwards.
func TestConformance(t *testing.T) {
	addrs := singleAddrs(t)
	storagetest.Run(t, func(t *testing.T) foxstore.StoragePlugin {
		return openStore(t, addrs, randomName("fx-"))
	})
}

package database_test

import (
	"testing"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/storagetest"
)

// TestConformance runs the contract's suite on each driver, every store on a
// table (and for SQLite a file) of its own.
func TestConformance(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		storagetest.Run(t, func(t *testing.T) foxstore.StoragePlugin {
			return tg.open(t, func(c *foxstore.Config) { c.CacheSize = 1000 })
		})
	})
}

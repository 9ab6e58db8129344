package torture_test

import (
	"testing"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/torture"
)

// workloads runs every workload on the stores newStore opens.
func workloads(t *testing.T, newStore func(*testing.T) foxstore.StoragePlugin, opts torture.Options) {
	t.Run("Linearizable", func(t *testing.T) { torture.Linearizable(t, newStore, opts) })
	t.Run("Bank", func(t *testing.T) { torture.Bank(t, newStore, opts) })
	t.Run("Append", func(t *testing.T) { torture.Append(t, newStore, opts) })
	t.Run("Set", func(t *testing.T) { torture.Set(t, newStore, opts) })
}

package foxstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/backend/memory"
	"github.com/foxstore/foxstore/driver"
)

// "cached-memory" is the memory backend declared non-resident, so the front
// puts its read cache in front of it: what a cached Get costs on the
// database and redis backends, without their network.
func init() {
	driver.Register("cached-memory", driver.Driver{
		Open: func(context.Context, driver.Config) (driver.Backend, error) { return memory.New(), nil },
	})
}

// constBackend answers every Get with one entry: a Get on it costs the
// front's work alone (key check, closed and context checks, the call into
// the backend, the deadline check, the hit counter).
type constBackend struct {
	*memory.Store
	e driver.Entry
}

func (c *constBackend) Get(context.Context, string) (driver.Entry, bool, error) {
	return c.e, true, nil
}

func init() {
	driver.Register("const-memory", driver.Driver{
		Open: func(context.Context, driver.Config) (driver.Backend, error) {
			v, err := driver.EncodeValue("value")
			return &constBackend{memory.New(), driver.Entry{Value: v}}, err
		},
		Resident: true,
	})
}

func benchGet(b *testing.B, cfg foxstore.Config) {
	ctx := context.Background()
	s := open(b, cfg)
	const n = 1000 // fits the cache
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%08d", i)
		if err := s.Set(ctx, keys[i], "value", 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Get(ctx, keys[i]); err != nil {
			b.Fatal(err)
		}
		if i++; i == n {
			i = 0
		}
	}
}

// BenchmarkGet compares a Get on the memory backend with a cached Get
// (a read-cache hit), and with the front alone (a backend that does
// nothing), in one run.
func BenchmarkGet(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchGet(b, foxstore.Config{Backend: "memory"}) })
	b.Run("front-only", func(b *testing.B) { benchGet(b, foxstore.Config{Backend: "const-memory"}) })
	b.Run("cached", func(b *testing.B) {
		benchGet(b, foxstore.Config{Backend: "cached-memory", CacheSize: 10000})
	})
}

package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"
	gocache "github.com/patrickmn/go-cache"
	"github.com/tidwall/buntdb"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/backend/memory"
	"github.com/foxstore/foxstore/driver"
)

const preload = 100_000

var (
	keys   = makeKeys("user:%08d", preload)
	values = makeValues(preload)
)

func makeKeys(format string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i)
	}
	return out
}

// makeValues boxes the values once, so no benchmark measures the boxing.
func makeValues(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = fmt.Sprintf("value-%d", i)
	}
	return out
}

type track struct {
	ID     int64    `json:"id"`
	Title  string   `json:"title"`
	Artist string   `json:"artist"`
	Tags   []string `json:"tags"`
}

var trackValue any = track{ID: 42, Title: "Yellow Submarine", Artist: "The Beatles", Tags: []string{"pop", "1966"}}

// kv is what every contender offers to these benchmarks.
type kv interface {
	get(k string) (any, bool)
	set(k string, v any, ttl time.Duration)
}

// floor is the least a concurrent map can cost: a map behind an RWMutex.
type floor struct {
	mu sync.RWMutex
	m  map[string]any
}

func (f *floor) get(k string) (any, bool) {
	f.mu.RLock()
	v, ok := f.m[k]
	f.mu.RUnlock()
	return v, ok
}

func (f *floor) set(k string, v any, _ time.Duration) {
	f.mu.Lock()
	f.m[k] = v
	f.mu.Unlock()
}

type fox struct{ s foxstore.StoragePlugin }

func (f *fox) get(k string) (any, bool) {
	v, err := f.s.Get(context.Background(), k)
	return v, err == nil
}

func (f *fox) set(k string, v any, ttl time.Duration) {
	if err := f.s.Set(context.Background(), k, v, ttl); err != nil {
		panic(err)
	}
}

// backendOnly is foxstore's memory backend called directly, without the
// front (key checks, closed and context checks, statistics, TTL checks):
// it tells how a foxstore time splits between the two.
type backendOnly struct{ s *memory.Store }

func (m backendOnly) get(k string) (any, bool) {
	e, ok, _ := m.s.Get(context.Background(), k)
	if !ok {
		return nil, false
	}
	if x, ok := e.Value.Plain(); ok {
		return x, true
	}
	x, err := e.Value.Decode()
	return x, err == nil
}

func (m backendOnly) set(k string, v any, ttl time.Duration) {
	val, err := driver.EncodeValue(v)
	if err != nil {
		panic(err)
	}
	var exp int64
	if ttl > 0 {
		exp = time.Now().Add(ttl).UnixMilli()
	}
	if err := m.s.ApplyOne(context.Background(), driver.Write{Key: k, Entry: driver.Entry{Value: val, Expires: exp}}); err != nil {
		panic(err)
	}
}

type goCache struct{ c *gocache.Cache }

func (g goCache) get(k string) (any, bool) { return g.c.Get(k) }
func (g goCache) set(k string, v any, ttl time.Duration) {
	if ttl == 0 {
		ttl = gocache.NoExpiration
	}
	g.c.Set(k, v, ttl)
}

type otterCache struct{ c *otter.Cache[string, any] }

func (o otterCache) get(k string) (any, bool) { return o.c.GetIfPresent(k) }
func (o otterCache) set(k string, v any, ttl time.Duration) {
	o.c.Set(k, v)
	if ttl > 0 {
		o.c.SetExpiresAfter(k, ttl)
	}
}

// bunt stores strings only, as buntdb does; other values would need encoding.
type bunt struct{ db *buntdb.DB }

func (b bunt) get(k string) (any, bool) {
	var v string
	err := b.db.View(func(tx *buntdb.Tx) error {
		var err error
		v, err = tx.Get(k)
		return err
	})
	return v, err == nil
}

func (b bunt) set(k string, v any, ttl time.Duration) {
	s, ok := v.(string)
	if !ok {
		panic("buntdb takes strings")
	}
	var opts *buntdb.SetOptions
	if ttl > 0 {
		opts = &buntdb.SetOptions{Expires: true, TTL: ttl}
	}
	err := b.db.Update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(k, s, opts)
		return err
	})
	if err != nil {
		panic(err)
	}
}

func openFox(tb testing.TB) foxstore.StoragePlugin {
	s, err := foxstore.Open(context.Background(), foxstore.Config{Backend: "memory"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.(foxstore.Store).Close() })
	return s
}

func openBunt(tb testing.TB) *buntdb.DB {
	db, err := buntdb.Open(":memory:")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func newOtter(ttl bool) *otter.Cache[string, any] {
	o := &otter.Options[string, any]{}
	if ttl {
		o.ExpiryCalculator = otter.ExpiryWriting[string, any](time.Hour)
	}
	return otter.Must(o)
}

// contenders returns a fresh store per contender, preloaded with n entries.
func contenders(tb testing.TB, n int, withTTL bool) []struct {
	name string
	kv   kv
} {
	list := []struct {
		name string
		kv   kv
	}{
		{"floor", &floor{m: map[string]any{}}},
		{"foxstore", &fox{openFox(tb)}},
		{"memory-backend", backendOnly{memory.New()}},
		{"go-cache", goCache{gocache.New(gocache.NoExpiration, 0)}},
		{"otter", otterCache{newOtter(withTTL)}},
		{"buntdb", bunt{openBunt(tb)}},
	}
	for _, c := range list {
		for i := 0; i < n; i++ {
			c.kv.set(keys[i], values[i], 0)
		}
	}
	return list
}

func BenchmarkGet(b *testing.B) { benchGets(b, keys) }

// getLoop and setTTLLoop are timed loops in functions of their own, which
// bench/cachesim.sh counts, entered after growStack has made the
// goroutine's stack larger than any loop needs. A benchmark runs on a new
// goroutine, whose stack starts small: when it grew inside the loop, the
// runtime copied it, which callgrind cannot follow, and cachesim.sh counted
// nothing, or garbage, for a foxstore Set.

// growStack uses 64 KiB of stack, so that the runtime grows the goroutine's
// stack to at least 128 KiB, and it stays that large until a garbage
// collection shrinks it (cachesim.sh runs with the collector off).
//
//go:noinline
func growStack() byte {
	var buf [64 << 10]byte
	for i := range buf {
		buf[i] = byte(i)
	}
	return buf[len(buf)-1] + buf[len(buf)/2]
}

//go:noinline
func getLoop(b *testing.B, kv kv, ks []string) {
	i := 0
	for b.Loop() {
		if _, ok := kv.get(ks[i]); !ok {
			b.Fatal("missing")
		}
		if i++; i == len(ks) {
			i = 0
		}
	}
}

//go:noinline
func setTTLLoop(b *testing.B, kv kv) {
	i := 0
	for b.Loop() {
		kv.set(keys[i], values[i], time.Hour)
		if i++; i == preload {
			i = 0
		}
	}
}

// benchGets times each contender's Gets of ks, in turn, over and over.
func benchGets(b *testing.B, ks []string) {
	for _, c := range contenders(b, preload, false) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			growStack()
			getLoop(b, c.kv, ks)
		})
	}
}

// BenchmarkGetRandom is BenchmarkGet with the keys read in a fixed random
// order rather than in the order they were stored. Read in order, a store
// whose entries were allocated in order lets the processor prefetch the
// next one, which flatters stores that keep each entry in its own
// allocation; a random order is what an application's reads look like.
// The keys to read are copies, laid out in the order they are read: so
// reading them costs no cache miss of its own, and no store can compare
// them with its stored keys by pointer alone, as an application's freshly
// built keys cannot be either.
func BenchmarkGetRandom(b *testing.B) {
	order := rand.New(rand.NewPCG(7, 7)).Perm(preload)
	lookups := make([]string, preload)
	var buf strings.Builder
	for _, k := range order {
		buf.WriteString(keys[k])
	}
	all, at := buf.String(), 0
	for j, k := range order {
		lookups[j] = all[at : at+len(keys[k])]
		at += len(keys[k])
	}
	benchGets(b, lookups)
}

func BenchmarkGetParallel(b *testing.B) {
	for _, c := range contenders(b, preload, false) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var seed atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(seed.Add(7919)) % preload
				for pb.Next() {
					if _, ok := c.kv.get(keys[i]); !ok {
						b.Error("missing")
						return
					}
					if i++; i == preload {
						i = 0
					}
				}
			})
		})
	}
}

func BenchmarkSetTTL(b *testing.B) {
	for _, c := range contenders(b, preload, true) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			growStack()
			setTTLLoop(b, c.kv)
		})
	}
}

func BenchmarkSetStruct(b *testing.B) {
	for _, c := range contenders(b, preload, false) {
		if c.name == "buntdb" {
			continue // strings only
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c.kv.set(keys[i], trackValue, 0)
				if i++; i == preload {
					i = 0
				}
			}
		})
	}
}

// BenchmarkMemoryPerEntry reports the heap bytes each contender holds per
// entry of a 100k-entry store (key "user:%08d", a short string value).
func BenchmarkMemoryPerEntry(b *testing.B) {
	builders := []struct {
		name string
		make func() kv
	}{
		{"floor", func() kv { return &floor{m: map[string]any{}} }},
		{"foxstore", func() kv { return &fox{openFox(b)} }},
		{"go-cache", func() kv { return goCache{gocache.New(gocache.NoExpiration, 0)} }},
		{"otter", func() kv { return otterCache{newOtter(false)} }},
		{"buntdb", func() kv { return bunt{openBunt(b)} }},
	}
	for _, c := range builders {
		b.Run(c.name, func(b *testing.B) {
			var perEntry float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				s := c.make()
				for i := 0; i < preload; i++ {
					s.set(keys[i], values[i], 0)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perEntry = float64(after.HeapAlloc-before.HeapAlloc) / preload
				runtime.KeepAlive(s)
			}
			b.ReportMetric(perEntry, "B/entry")
		})
	}
}

// The prefix benchmarks use a million keys, of which 1% are songs.
var (
	bigOnce  sync.Once
	bigFox   foxstore.StoragePlugin
	bigBunt  *buntdb.DB
	bigSongs = 10_000
)

func bigStores(b *testing.B) {
	bigOnce.Do(func() {
		ctx := context.Background()
		var err error
		bigFox, err = foxstore.Open(ctx, foxstore.Config{})
		if err != nil {
			b.Fatal(err)
		}
		bigBunt, err = buntdb.Open(":memory:")
		if err != nil {
			b.Fatal(err)
		}
		batch := map[string]any{}
		flush := func() {
			if err := bigFox.SetBatch(ctx, batch); err != nil {
				b.Fatal(err)
			}
			bigBunt.Update(func(tx *buntdb.Tx) error {
				for k, v := range batch {
					tx.Set(k, v.(string), nil)
				}
				return nil
			})
			clear(batch)
		}
		for i := 0; i < 1_000_000; i++ {
			k := fmt.Sprintf("user:%08d", i)
			if i%100 == 0 {
				k = fmt.Sprintf("song:%08d", i)
			}
			batch[k] = "v"
			if len(batch) == 10_000 {
				flush()
			}
		}
		flush()
	})
}

func BenchmarkKeys1M(b *testing.B) {
	bigStores(b)
	ctx := context.Background()
	run := func(pattern string) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ks, err := bigFox.Keys(ctx, pattern)
				if err != nil || len(ks) != bigSongs {
					b.Fatalf("Keys(%q) = %d keys, %v", pattern, len(ks), err)
				}
			}
		}
	}
	// The same 10,000 keys: through the index range of the literal prefix,
	// and (a class first, so no literal prefix) by matching every key.
	b.Run("foxstore/prefix=song:*", run("song:*"))
	b.Run("foxstore/fullscan=[s]ong:*", run("[s]ong:*"))
	b.Run("buntdb/AscendKeys=song:*", func(b *testing.B) {
		for b.Loop() {
			n := 0
			bigBunt.View(func(tx *buntdb.Tx) error {
				return tx.AscendKeys("song:*", func(k, v string) bool { n++; return true })
			})
			if n != bigSongs {
				b.Fatalf("%d keys", n)
			}
		}
	})
}

// BenchmarkKeysGrowth keeps the matches at 10,000 and grows the store: the
// cost of a prefix query should follow the matches, not the store.
func BenchmarkKeysGrowth(b *testing.B) {
	ctx := context.Background()
	for _, total := range []int{100_000, 1_000_000} {
		s := openFox(b)
		batch := map[string]any{}
		for i := 0; i < total; i++ {
			k := fmt.Sprintf("user:%08d", i)
			if i < 10_000 {
				k = fmt.Sprintf("song:%08d", i)
			}
			batch[k] = "v"
			if len(batch) == 10_000 {
				if err := s.SetBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
				clear(batch)
			}
		}
		b.Run(fmt.Sprintf("store=%d", total), func(b *testing.B) {
			for b.Loop() {
				ks, err := s.Keys(ctx, "song:*")
				if err != nil || len(ks) != 10_000 {
					b.Fatalf("%d keys, %v", len(ks), err)
				}
			}
		})
		s.(foxstore.Store).Close()
	}
}

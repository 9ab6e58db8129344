package redis

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/driver"
)

// The benchmarks run against FOXSTORE_TEST_REDIS (or skip), each in a
// namespace of its own that is removed afterwards:
//
//	FOXSTORE_TEST_REDIS=127.0.0.1:6379 go test -run '^$' -bench . ./backend/redis/
//
// The foxstore stores run without the read cache, so that Get measures the
// round trip to Redis like the raw client does. Raw clients send the same
// commands with the same bytes (an encoded entry), without the front.

// benchStore opens a store with the read cache off, and a raw client.
func benchStore(b *testing.B) (foxstore.Store, goredis.UniversalClient, string) {
	addrs := singleAddrs(b)
	ns := randomName("fx-bench-")
	st := openStore(b, addrs, ns, func(c *foxstore.Config) { c.CacheSize = 0 })
	return st, rawClient(b, addrs), nsPrefix(ns)
}

func benchEntry(b *testing.B, x any) []byte {
	v, err := driver.EncodeValue(x)
	if err != nil {
		b.Fatal(err)
	}
	return encodeEntry(driver.Entry{Value: v})
}

func BenchmarkGet(b *testing.B) {
	st, raw, prefix := benchStore(b)
	ctx := context.Background()
	if err := st.Set(ctx, "k", "a value of some thirty bytes..", 0); err != nil {
		b.Fatal(err)
	}
	b.Run("foxstore", func(b *testing.B) {
		for b.Loop() {
			if _, err := st.Get(ctx, "k"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-redis", func(b *testing.B) {
		for b.Loop() {
			if _, err := raw.Get(ctx, prefix+"k").Bytes(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSet(b *testing.B) {
	st, raw, prefix := benchStore(b)
	ctx := context.Background()
	const value = "a value of some thirty bytes.."
	b.Run("foxstore", func(b *testing.B) {
		for b.Loop() {
			if err := st.Set(ctx, "k", value, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	entry := benchEntry(b, value)
	b.Run("go-redis", func(b *testing.B) {
		for b.Loop() {
			if err := raw.Set(ctx, prefix+"k", entry, 0).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkParallelGet is BenchmarkGet from GOMAXPROCS goroutines.
func BenchmarkParallelGet(b *testing.B) {
	st, raw, prefix := benchStore(b)
	ctx := context.Background()
	st.Set(ctx, "k", "a value of some thirty bytes..", 0)
	b.Run("foxstore", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := st.Get(ctx, "k"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("go-redis", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := raw.Get(ctx, prefix+"k").Err(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkWrite1000 writes 1,000 entries as one SetBatch (one MULTI/EXEC
// round trip) and as 1,000 Set calls.
func BenchmarkWrite1000(b *testing.B) {
	st, _, _ := benchStore(b)
	ctx := context.Background()
	data := map[string]any{}
	for i := range 1000 {
		data[fmt.Sprintf("song:%04d", i)] = i
	}
	b.Run("SetBatch", func(b *testing.B) {
		for b.Loop() {
			if err := st.SetBatch(ctx, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Set", func(b *testing.B) {
		for b.Loop() {
			for k, v := range data {
				if err := st.Set(ctx, k, v, 0); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkKeys lists FOXSTORE_BENCH_KEYS keys (default 100,000) through
// Keys("song:*"), next to the cost of the SCAN MATCH walk alone, which is
// the floor for any listing without an index. Each op lists every key.
func BenchmarkKeys(b *testing.B) {
	n := 100_000
	if s := os.Getenv("FOXSTORE_BENCH_KEYS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	st, raw, prefix := benchStore(b)
	ctx := context.Background()
	entry := benchEntry(b, 12345)
	for start := 0; start < n; start += 10_000 {
		_, err := raw.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i := start; i < min(n, start+10_000); i++ {
				p.Set(ctx, fmt.Sprintf("%ssong:%07d", prefix, i), entry, 0)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Run(fmt.Sprintf("foxstore-%d", n), func(b *testing.B) {
		for b.Loop() {
			keys, err := st.Keys(ctx, "song:*")
			if err != nil || len(keys) != n {
				b.Fatalf("Keys: %d keys, %v", len(keys), err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/key")
	})
	b.Run(fmt.Sprintf("scan-only-%d", n), func(b *testing.B) {
		match := escapeGlob(prefix+"song:") + "*"
		for b.Loop() {
			count := 0
			iter := raw.Scan(ctx, 0, match, scanCount).Iterator()
			for iter.Next(ctx) {
				count++
			}
			if iter.Err() != nil || count < n {
				b.Fatalf("SCAN: %d keys, %v", count, iter.Err())
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/key")
	})
}

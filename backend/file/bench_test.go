package file_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/backend/file"
	"github.com/foxstore/foxstore/driver"
)

var openEntries = flag.Int("file.openentries", 1_000_000, "entries in the store that BenchmarkOpen opens")

const benchValue = `{"id":123456,"name":"Some Song","artist":"Some Artist","ms":215000}`

func benchConfig(path string, async bool) foxstore.Config {
	return foxstore.Config{
		Backend:    "file",
		FilePath:   path,
		AsyncWrite: async,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func benchKey(i int) string { return fmt.Sprintf("song:%08d", i) }

// prefill writes n entries with the backend API and compacts, so that the
// benchmark starts from a snapshot and an empty log.
func prefill(b *testing.B, path string, n int) {
	b.Helper()
	s, err := file.Open(context.Background(), benchConfig(path, false))
	if err != nil {
		b.Fatal(err)
	}
	v, _ := driver.EncodeValue(benchValue)
	const batch = 10_000
	for i := 0; i < n; i += batch {
		ws := make([]driver.Write, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			ws = append(ws, driver.Write{Key: benchKey(j), Entry: driver.Entry{Value: v}})
		}
		if err := s.Apply(context.Background(), ws); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Compact(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}

func openForBench(b *testing.B, path string, async bool) foxstore.StoragePlugin {
	b.Helper()
	s, err := foxstore.Open(context.Background(), benchConfig(path, async))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.(io.Closer).Close() })
	return s
}

// BenchmarkSetSync is one writer's durable Set (one fsync each) into a
// store of 1,000 and of 100,000 keys: the cost must not grow with the store.
func BenchmarkSetSync(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "storage.json")
			prefill(b, path, n)
			s := openForBench(b, path, false)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				if err := s.Set(ctx, benchKey(i%n), benchValue, 0); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkSetSync8Writers is durable Sets from 8 concurrent writers, which
// share fsyncs through group commit; ns/op is per Set.
func BenchmarkSetSync8Writers(b *testing.B) {
	const writers, keys = 8, 100_000
	path := filepath.Join(b.TempDir(), "storage.json")
	prefill(b, path, keys)
	s := openForBench(b, path, false)
	ctx := context.Background()
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > b.N {
					return
				}
				if err := s.Set(ctx, benchKey(i%keys), benchValue, 0); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkSetAsync is one writer's Set with async_write: acknowledged from
// memory, flushed every flush_interval.
func BenchmarkSetAsync(b *testing.B) {
	const keys = 100_000
	path := filepath.Join(b.TempDir(), "storage.json")
	prefill(b, path, keys)
	s := openForBench(b, path, true)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if err := s.Set(ctx, benchKey(i%keys), benchValue, 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkGet reads from memory; for comparison with the writes.
func BenchmarkGet(b *testing.B) {
	const keys = 100_000
	path := filepath.Join(b.TempDir(), "storage.json")
	prefill(b, path, keys)
	s := openForBench(b, path, false)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := s.Get(ctx, benchKey(i%keys)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkOpen opens (and closes) a store of -file.openentries small
// entries (default 1,000,000) that was just compacted; it reports the file
// size per entry.
func BenchmarkOpen(b *testing.B) {
	n := *openEntries
	path := filepath.Join(b.TempDir(), "storage.json")
	prefill(b, path, n)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
		for b.Loop() {
			s, err := foxstore.Open(context.Background(), benchConfig(path, false))
			if err != nil {
				b.Fatal(err)
			}
			s.(io.Closer).Close()
		}
		b.ReportMetric(float64(fi.Size())/float64(n), "B/entry")
	})
}

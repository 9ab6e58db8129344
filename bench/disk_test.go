package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tidwall/buntdb"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/backend/file"
)

// The disk benchmarks put foxstore's file backend next to buntdb, each in
// its own directory under os.TempDir (set TMPDIR to measure another disk),
// so that both pay for the same disk in the same run. buntdb's SyncPolicy
// is matched to foxstore's mode: Always for sync writes (one fsync per
// write), EverySecond for async_write.

var quiet = slog.New(slog.DiscardHandler)

func fileConfig(path string, async bool) foxstore.Config {
	return foxstore.Config{Backend: "file", FilePath: path, AsyncWrite: async, Logger: quiet}
}

func openFoxFile(tb testing.TB, path string, async bool) foxstore.Store {
	s, err := foxstore.Open(context.Background(), fileConfig(path, async))
	if err != nil {
		tb.Fatal(err)
	}
	return s.(foxstore.Store)
}

func openBuntFile(tb testing.TB, path string, policy buntdb.SyncPolicy) *buntdb.DB {
	db, err := buntdb.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	var cfg buntdb.Config
	if err := db.ReadConfig(&cfg); err != nil {
		tb.Fatal(err)
	}
	cfg.SyncPolicy = policy
	if err := db.SetConfig(cfg); err != nil {
		tb.Fatal(err)
	}
	return db
}

// entry is the i-th key and value of a store: "user:%08d" and a short
// string. The first len(keys) come from the shared tables.
func entry(i int) (string, string) {
	if i < len(keys) {
		return keys[i], values[i].(string)
	}
	return fmt.Sprintf("user:%08d", i), "value-" + strconv.Itoa(i)
}

const loadBatch = 10_000

// write is the j-th write of a benchmark into a store that holds entries
// [0, n): the keys in turn, each pass giving every key a value other than
// the one it holds, because a store may skip a write that changes nothing
// (SQLite does). It returns indexes into the tables of keys and values.
func write(j, n int) (key, value int) {
	key = j % n
	return key, (key + j/n + 1) % len(values)
}

// loadFox writes entries [0, n) in batches.
func loadFox(tb testing.TB, s foxstore.StoragePlugin, n int) {
	batch := make(map[string]any, loadBatch)
	for i := 0; i < n; i++ {
		k, v := entry(i)
		batch[k] = v
		if len(batch) == loadBatch || i == n-1 {
			if err := s.SetBatch(context.Background(), batch); err != nil {
				tb.Fatal(err)
			}
			clear(batch)
		}
	}
}

// loadBunt writes entries [0, n) in transactions of loadBatch sets.
func loadBunt(tb testing.TB, db *buntdb.DB, n int) {
	for lo := 0; lo < n; lo += loadBatch {
		err := db.Update(func(tx *buntdb.Tx) error {
			for i := lo; i < min(lo+loadBatch, n); i++ {
				k, v := entry(i)
				if _, _, err := tx.Set(k, v, nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// compactFile rewrites the file store at path as one snapshot and an empty
// log, the state a store settles in, so that no compaction of the loaded
// data is pending when the timed part starts.
func compactFile(tb testing.TB, path string) {
	ctx := context.Background()
	s, err := file.Open(ctx, fileConfig(path, false))
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Compact(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		tb.Fatal(err)
	}
}

// durable is a contender of the disk benchmarks: open returns its store in
// dir, holding entries [0, n), closed when tb ends.
type durable struct {
	name string
	open func(tb testing.TB, dir string, n int) kv
}

func foxFile(async bool) durable {
	return durable{"store=foxstore", func(tb testing.TB, dir string, n int) kv {
		path := filepath.Join(dir, "storage.json")
		s := openFoxFile(tb, path, false)
		loadFox(tb, s, n)
		if err := s.Close(); err != nil {
			tb.Fatal(err)
		}
		compactFile(tb, path)
		s = openFoxFile(tb, path, async)
		tb.Cleanup(func() { s.Close() })
		return &fox{s}
	}}
}

func buntFile(policy buntdb.SyncPolicy) durable {
	return durable{"store=buntdb", func(tb testing.TB, dir string, n int) kv {
		db := openBuntFile(tb, filepath.Join(dir, "data.db"), policy)
		tb.Cleanup(func() { db.Close() })
		loadBunt(tb, db, n)
		return bunt{db}
	}}
}

func syncDurables() []durable {
	return []durable{foxFile(false), buntFile(buntdb.Always)}
}

// BenchmarkDiskSet is one writer's durable Set (it returns once on disk)
// into a store of 1,000 and of 100,000 keys, overwriting keys in turn so
// that the size stays put. The target: 100,000 costs at most 2x 1,000.
func BenchmarkDiskSet(b *testing.B) {
	for _, c := range syncDurables() {
		for _, n := range []int{1_000, 100_000} {
			b.Run(fmt.Sprintf("%s/keys=%d", c.name, n), func(b *testing.B) {
				s := c.open(b, b.TempDir(), n)
				b.ReportAllocs()
				j := 0
				for b.Loop() {
					k, v := write(j, n)
					s.set(keys[k], values[v], 0)
					j++
				}
			})
		}
	}
}

// BenchmarkDiskSet8Writers is durable Sets from 8 goroutines into a store
// of 100,000 keys; ns/op is wall time per Set, so 1e9/ns is the throughput.
// foxstore's writers share fsyncs (group commit); buntdb's take turns, one
// fsync each. The target: foxstore at least 4x buntdb's throughput.
func BenchmarkDiskSet8Writers(b *testing.B) {
	const writers, n = 8, 100_000
	for _, c := range syncDurables() {
		b.Run(c.name, func(b *testing.B) {
			s := c.open(b, b.TempDir(), n)
			b.ReportAllocs()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range writers {
				wg.Go(func() {
					for {
						j := int(next.Add(1)) - 1
						if j >= b.N {
							return
						}
						k, v := write(j, n)
						s.set(keys[k], values[v], 0)
					}
				})
			}
			wg.Wait()
		})
	}
}

// BenchmarkDiskSetAsync is one writer's Set into a store of 100,000 keys
// when writes are acknowledged before they reach the disk: foxstore with
// async_write (flushed every flush_interval, 1s) and buntdb with
// SyncPolicy EverySecond (written at once, fsynced every second). The
// target: foxstore at least as fast.
func BenchmarkDiskSetAsync(b *testing.B) {
	const n = 100_000
	for _, c := range []durable{foxFile(true), buntFile(buntdb.EverySecond)} {
		b.Run(c.name, func(b *testing.B) {
			s := c.open(b, b.TempDir(), n)
			b.ReportAllocs()
			j := 0
			for b.Loop() {
				k, v := write(j, n)
				s.set(keys[k], values[v], 0)
				j++
			}
		})
	}
}

// openEntries is the size of the stores BenchmarkDiskOpen opens:
// FOXSTORE_BENCH_OPEN_N, 1,000,000 by default.
func openEntries(tb testing.TB) int {
	s := os.Getenv("FOXSTORE_BENCH_OPEN_N")
	if s == "" {
		return 1_000_000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		tb.Fatalf("FOXSTORE_BENCH_OPEN_N=%q: want a positive number", s)
	}
	return n
}

// openFixture holds the stores BenchmarkDiskOpen opens. They take a while
// to write, so they are written once per test binary run, whatever -count
// says, and removed by TestMain.
var openFixture struct {
	once     sync.Once
	dir      string
	n        int
	foxPath  string
	buntPath string
	err      error
}

func buildOpenFixture(b *testing.B) {
	f := &openFixture
	f.once.Do(func() {
		f.n = openEntries(b)
		if f.dir, f.err = os.MkdirTemp("", "foxstore-bench-open-"); f.err != nil {
			return
		}
		f.foxPath = filepath.Join(f.dir, "foxstore", "storage.json")
		f.buntPath = filepath.Join(f.dir, "buntdb", "data.db")
		if f.err = os.Mkdir(filepath.Dir(f.buntPath), 0o700); f.err != nil {
			return
		}
		// A failure below ends the benchmark through b.Fatal; the fixture
		// is then incomplete, so a later call must not use it.
		f.err = fmt.Errorf("the fixture could not be built")
		s := openFoxFile(b, f.foxPath, false)
		loadFox(b, s, f.n)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		compactFile(b, f.foxPath)
		// Auto-shrink would start on its own while the data goes in, and
		// Shrink refuses to run beside it.
		db := openBuntFile(b, f.buntPath, buntdb.EverySecond)
		var cfg buntdb.Config
		if err := db.ReadConfig(&cfg); err != nil {
			b.Fatal(err)
		}
		cfg.AutoShrinkDisabled = true
		if err := db.SetConfig(cfg); err != nil {
			b.Fatal(err)
		}
		loadBunt(b, db, f.n)
		if err := db.Shrink(); err != nil {
			b.Fatal(err)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		f.err = nil
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
}

func removeOpenFixture() {
	if openFixture.dir != "" {
		os.RemoveAll(openFixture.dir)
	}
}

// dirSize sums the sizes of the files in dir whose names pass keep.
func dirSize(tb testing.TB, dir string, keep func(name string) bool) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var total int64
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			tb.Fatal(err)
		}
		if fi.Mode().IsRegular() && keep(fi.Name()) {
			total += fi.Size()
		}
	}
	return total
}

func anyFile(string) bool { return true }

// foxLive tells the files of a foxstore store that hold its current data
// from its backups: the snapshot and the newest log segment, the only one
// after a compaction. Older segments are kept for the backups.
func foxLive(tb testing.TB, dir string) func(name string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	newest := int64(-1)
	for _, e := range ents {
		if n, ok := strings.CutPrefix(e.Name(), "storage.json.log."); ok {
			if seq, err := strconv.ParseInt(n, 10, 64); err == nil {
				newest = max(newest, seq)
			}
		}
	}
	active := "storage.json.log." + strconv.FormatInt(newest, 10)
	return func(name string) bool { return name == "storage.json" || name == active }
}

// BenchmarkDiskOpen opens (and closes) a store of FOXSTORE_BENCH_OPEN_N
// small entries, compacted: foxstore's snapshot, buntdb's shrunk
// append-only file. Only the open and close are timed. The target:
// foxstore opens in at most buntdb's time.
//
// B/entry-on-disk is the size of the files that hold the data, per entry.
// foxstore's directory also holds the backup_count (3) snapshots that its
// compactions replaced while the data went in, and the log segments that
// these backups need: B/entry-with-backups counts every file.
func BenchmarkDiskOpen(b *testing.B) {
	buildOpenFixture(b)
	f := &openFixture
	lastKey, _ := entry(f.n - 1)
	ctx := context.Background()
	b.Run(fmt.Sprintf("store=foxstore/entries=%d", f.n), func(b *testing.B) {
		dir := filepath.Dir(f.foxPath)
		live, all := dirSize(b, dir, foxLive(b, dir)), dirSize(b, dir, anyFile)
		b.ReportAllocs()
		for b.Loop() {
			s, err := foxstore.Open(ctx, fileConfig(f.foxPath, false))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Get(ctx, lastKey); err != nil {
				b.Fatal(err)
			}
			if err := s.(foxstore.Store).Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(live)/float64(f.n), "B/entry-on-disk")
		b.ReportMetric(float64(all)/float64(f.n), "B/entry-with-backups")
	})
	b.Run(fmt.Sprintf("store=buntdb/entries=%d", f.n), func(b *testing.B) {
		size := dirSize(b, filepath.Dir(f.buntPath), anyFile)
		b.ReportAllocs()
		for b.Loop() {
			db, err := buntdb.Open(f.buntPath)
			if err != nil {
				b.Fatal(err)
			}
			err = db.View(func(tx *buntdb.Tx) error {
				_, err := tx.Get(lastKey)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(size)/float64(f.n), "B/entry-on-disk")
	})
}

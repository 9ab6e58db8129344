package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foxstore/foxstore/driver"
)

var errInjected = errors.New("injected: no space left on device")

// failWrites makes the store's log writes fail while fail is set. The hook
// runs under smu, where the write happens.
func failWrites(s *Store, fail *atomic.Bool) {
	s.smu.Lock()
	s.writeHook = func(buf []byte) error {
		if fail.Load() {
			// Part of the batch reaches the file, as on a full disk.
			s.seg.WriteAt(buf[:len(buf)/2], s.segSize)
			return errInjected
		}
		return nil
	}
	s.smu.Unlock()
}

func TestSyncWriteFailureUndoesAndKeepsDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "storage.json")
	s := mustOpen(t, testConfig(path, nil))
	mustApply(t, s, set("a", val(t, "old"), 0), set("b", val(t, 1), 0))
	var fail atomic.Bool
	failWrites(s, &fail)
	fail.Store(true)
	err := s.Apply(context.Background(), sorted(set("a", val(t, "new"), 0), del("b"), set("c", val(t, 3), 0)))
	if !errors.Is(err, errInjected) {
		t.Fatalf("Apply on a failing disk: %v", err)
	}
	// The failed write is undone in memory: readers see what is durable.
	if v, _ := getValue(t, s, "a"); string(v.JSON()) != `"old"` {
		t.Errorf("a = %s after a failed write, want the old value", v.JSON())
	}
	if _, ok := getValue(t, s, "b"); !ok {
		t.Error("b deleted by a failed write")
	}
	if _, ok := getValue(t, s, "c"); ok {
		t.Error("c created by a failed write")
	}
	tx, _ := s.Begin(context.Background())
	tx.Get(context.Background(), "a")
	if err := tx.Commit(context.Background(), []driver.Write{set("a", val(t, "tx"), 0)}); !errors.Is(err, errInjected) {
		t.Fatalf("Commit on a failing disk: %v", err)
	}
	fail.Store(false)
	mustApply(t, s, set("d", val(t, 4), 0))
	want := dump(t, s)
	mustClose(t, s)
	s = mustOpen(t, testConfig(path, nil))
	defer mustClose(t, s)
	if got := dump(t, s); got != want {
		t.Fatalf("after reopen:\n%s\nwant:\n%s", got, want)
	}
}

// TestConcurrentWriteFailures fails the disk under concurrent writers: every
// write that returned nil must be there after reopening, and no write that
// failed may be.
func TestConcurrentWriteFailures(t *testing.T) {
	path := filepath.Join(t.TempDir(), "storage.json")
	s := mustOpen(t, testConfig(path, nil))
	var fail atomic.Bool
	failWrites(s, &fail)
	var mu sync.Mutex
	result := map[string]bool{} // key -> write succeeded
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 60; i++ {
				k := fmt.Sprintf("g%d-%03d", g, i)
				err := s.Apply(context.Background(), []driver.Write{set(k, val(t, k), 0)})
				if err != nil && !errors.Is(err, errInjected) {
					t.Error(err)
				}
				mu.Lock()
				result[k] = err == nil
				mu.Unlock()
				if i%7 == 0 {
					fail.Store(!fail.Load())
				}
			}
		}()
	}
	wg.Wait()
	fail.Store(false)
	check := func(s *Store) {
		t.Helper()
		failed := 0
		for k, ok := range result {
			_, found := getValue(t, s, k)
			if found != ok {
				t.Errorf("%s: write returned ok=%v, but the key is there=%v", k, ok, found)
			}
			if !ok {
				failed++
			}
		}
		if failed == 0 || failed == len(result) {
			t.Logf("%d of %d writes failed: the test exercised one side only", failed, len(result))
		}
	}
	check(s)
	mustClose(t, s)
	s = mustOpen(t, testConfig(path, nil))
	defer mustClose(t, s)
	check(s)
}

func TestAsyncFlushFailureIsReportedAndRetried(t *testing.T) {
	old := maxPending
	maxPending = 4 << 10
	t.Cleanup(func() { maxPending = old })
	path := filepath.Join(t.TempDir(), "storage.json")
	cfg := testConfig(path, nil)
	cfg.AsyncWrite = true
	cfg.FlushInterval = 10 * time.Millisecond
	s := mustOpen(t, cfg)
	var fail atomic.Bool
	failWrites(s, &fail)
	fail.Store(true)
	// Writes are acknowledged until the queue is full, then refused.
	acked := 0
	var err error
	for i := 0; i < 10000; i++ {
		err = s.Apply(context.Background(), []driver.Write{set(fmt.Sprintf("k%05d", i), val(t, strings.Repeat("x", 100)), 0)})
		if err != nil {
			break
		}
		acked++
	}
	if !errors.Is(err, errInjected) || acked == 0 {
		t.Fatalf("after %d acknowledged writes: %v; want the flush error once the queue is full", acked, err)
	}
	if err := s.Flush(context.Background()); !errors.Is(err, errInjected) {
		t.Fatalf("Flush on a failing disk: %v", err)
	}
	if _, err := s.Health(context.Background()); !errors.Is(err, errInjected) {
		t.Fatalf("Health on a failing disk: %v", err)
	}
	fail.Store(false)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatalf("Flush after the disk recovered: %v", err)
	}
	mustClose(t, s)
	s = mustOpen(t, testConfig(path, nil))
	defer mustClose(t, s)
	for i := 0; i < acked; i++ {
		if _, ok := getValue(t, s, fmt.Sprintf("k%05d", i)); !ok {
			t.Fatalf("acknowledged k%05d lost", i)
		}
	}
}

func TestAsyncCloseReportsFlushFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "storage.json")
	cfg := testConfig(path, nil)
	cfg.AsyncWrite = true
	cfg.FlushInterval = time.Hour
	s := mustOpen(t, cfg)
	var fail atomic.Bool
	failWrites(s, &fail)
	fail.Store(true)
	mustApply(t, s, set("k", val(t, 1), 0))
	if err := s.Close(context.Background()); !errors.Is(err, errInjected) {
		t.Fatalf("Close with an unflushable write: %v", err)
	}
}

func TestAsyncCloseFlushes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "storage.json")
	cfg := testConfig(path, nil)
	cfg.AsyncWrite = true
	cfg.FlushInterval = time.Hour
	s := mustOpen(t, cfg)
	for i := 0; i < 100; i++ {
		mustApply(t, s, set(fmt.Sprintf("k%03d", i), val(t, i), 0))
	}
	want := dump(t, s)
	mustClose(t, s)
	s = mustOpen(t, testConfig(path, nil))
	defer mustClose(t, s)
	if got := dump(t, s); got != want {
		t.Fatalf("Close did not flush:\n%s", got)
	}
}

// TestGroupCommit checks that concurrent writers share syncs: with eight
// writers, fewer log writes happen than acknowledged writes.
func TestGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "storage.json")
	s := mustOpen(t, testConfig(path, nil))
	defer mustClose(t, s)
	var syncs atomic.Int64
	s.smu.Lock()
	s.writeHook = func([]byte) error { syncs.Add(1); return nil }
	s.smu.Unlock()
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				mustApply(t, s, set(fmt.Sprintf("g%d-%d", g, i), val(t, i), 0))
			}
		}()
	}
	wg.Wait()
	t.Logf("%d writes, %d syncs", writers*each, syncs.Load())
	if syncs.Load() >= writers*each {
		t.Fatalf("%d syncs for %d writes: concurrent writers did not share syncs", syncs.Load(), writers*each)
	}
}

func TestFileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no Unix file modes")
	}
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "storage.json")
	cfg := testConfig(path, nil)
	cfg.BackupCount = 2
	s := mustOpen(t, cfg)
	mustApply(t, s, set("k", val(t, 1), 0))
	if err := s.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, set("k", val(t, 2), 0))
	mustClose(t, s)
	for _, d := range []string{dir, filepath.Dir(dir)} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("directory %s has mode %v, want 0700", d, fi.Mode().Perm())
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) < 4 {
		t.Fatalf("expected snapshot, backup, log and lock, found %d files", len(ents))
	}
	for _, e := range ents {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
}

func TestSweepAndCompactionDropExpired(t *testing.T) {
	old := sweepCompactMin
	sweepCompactMin = 10
	t.Cleanup(func() { sweepCompactMin = old })
	path := filepath.Join(t.TempDir(), "storage.json")
	s := mustOpen(t, testConfig(path, nil))
	now := time.Now().UnixMilli()
	var ws []driver.Write
	for i := 0; i < 50; i++ {
		ws = append(ws, set(fmt.Sprintf("short%02d", i), val(t, i), now+1))
	}
	ws = append(ws, set("stays", val(t, "here"), 0))
	mustApply(t, s, ws...)
	if err := s.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	removed, _, err := s.Sweep(context.Background(), time.Now().UnixMilli(), 1000)
	if err != nil || removed != 50 {
		t.Fatalf("Sweep removed %d, %v; want 50", removed, err)
	}
	// The sweep triggered a compaction in the background; Close waits
	// for it or cancels it, and an explicit one settles the question.
	if err := s.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "short") || !strings.Contains(string(data), "stays") {
		t.Fatalf("snapshot after compaction:\n%s", data)
	}
}

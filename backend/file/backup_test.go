package file

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBackupWhileWriting takes backups while a writer writes pairs of keys
// atomically and compacts often, then restores each by opening it: a backup
// holds whole pairs, and everything acknowledged before Backup started.
func TestBackupWhileWriting(t *testing.T) {
	old := compactMinBytes
	compactMinBytes = 8 << 10
	t.Cleanup(func() { compactMinBytes = old })
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprintf("async=%v", async), func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(filepath.Join(dir, "storage.json"), nil)
			cfg.AsyncWrite = async
			cfg.FlushInterval = 5 * time.Millisecond
			s := mustOpen(t, cfg)
			defer mustClose(t, s)
			var acked atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int64(1); ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					mustApply(t, s, set("a", val(t, i), 0), set("b", val(t, i), 0),
						set(fmt.Sprintf("f%03d", i%300), val(t, strings.Repeat("x", int(i%100))), 0))
					acked.Store(i)
					if async {
						// Async writers outrun a compaction every 8 KiB;
						// keep the log within reach of the backups.
						time.Sleep(50 * time.Microsecond)
					}
				}
			}()
			for n := 0; n < 8; n++ {
				time.Sleep(20 * time.Millisecond)
				before := acked.Load()
				var buf bytes.Buffer
				t0 := time.Now()
				if err := s.Backup(context.Background(), &buf); err != nil {
					t.Fatalf("Backup: %v", err)
				}
				t.Logf("backup %d took %v while writes went on (%d acknowledged)", n, time.Since(t0), acked.Load())
				// Restore: the copy is a store file.
				rdir := t.TempDir()
				rpath := filepath.Join(rdir, "restored.json")
				if err := os.WriteFile(rpath, buf.Bytes(), 0o600); err != nil {
					t.Fatal(err)
				}
				var logs logBuffer
				r := mustOpen(t, testConfig(rpath, &logs))
				a, okA := getValue(t, r, "a")
				b, _ := getValue(t, r, "b")
				if !okA || !a.Equal(b) {
					t.Fatalf("backup %d: a=%s b=%s", n, a.JSON(), b.JSON())
				}
				x, _ := a.Decode()
				if x.(int64) < before {
					t.Fatalf("backup %d holds write %d, but %d was acknowledged before Backup", n, x, before)
				}
				mustApply(t, r, set("restored", val(t, true), 0))
				mustClose(t, r)
				if w := logs.warnings(); len(w) > 0 {
					t.Fatalf("restoring warned: %v", w)
				}
			}
			close(stop)
			wg.Wait()
		})
	}
}

func TestBackupOfReadOnlyStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "storage.json")
	states := history(t, path)
	cfg := testConfig(path, nil)
	cfg.ReadOnly = true
	r := mustOpen(t, cfg)
	var buf bytes.Buffer
	if err := r.Backup(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	mustClose(t, r)
	rpath := filepath.Join(t.TempDir(), "copy.json")
	os.WriteFile(rpath, buf.Bytes(), 0o600)
	c := mustOpen(t, testConfig(rpath, nil))
	defer mustClose(t, c)
	if got := dump(t, c); got != states[len(states)-1] {
		t.Fatalf("restored:\n%s\nwant:\n%s", got, states[len(states)-1])
	}
}

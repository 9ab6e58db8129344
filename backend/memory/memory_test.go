package memory_test

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"sync"
	"testing"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/backend/memory"
	"github.com/foxstore/foxstore/driver"
	"github.com/foxstore/foxstore/storagetest"
)

func TestContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) foxstore.StoragePlugin {
		s, err := foxstore.Open(context.Background(), foxstore.Config{Backend: "memory"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.(foxstore.Store).Close() })
		return s
	})
}

func entry(s string) driver.Entry {
	v, err := driver.EncodeValue(s)
	if err != nil {
		panic(err)
	}
	return driver.Entry{Value: v}
}

// Scans and sweeps work a slice of the index at a time; these cross many.
func TestScanAndSweepCrossSlices(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	var ws []driver.Write
	for i := 0; i < 2000; i++ {
		e := entry("v")
		if i%2 == 0 {
			e.Expires = 1 // long gone
		}
		ws = append(ws, driver.Write{Key: string(rune('a'+i%26)) + string(rune(0x100+i)), Entry: e})
	}
	if err := s.Apply(ctx, ws); err != nil {
		t.Fatal(err)
	}
	var prev string
	n := 0
	if err := s.Scan(ctx, "", "", func(k string, _ driver.Entry) bool {
		if k <= prev {
			t.Fatalf("scan out of order: %q after %q", k, prev)
		}
		prev, n = k, n+1
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if n != 2000 {
		t.Fatalf("scan saw %d keys, want 2000", n)
	}
	n = 0
	s.Scan(ctx, "b", "c", func(k string, _ driver.Entry) bool {
		if k < "b" || k >= "c" {
			t.Fatalf("key %q outside [b, c)", k)
		}
		n++
		return true
	})
	if n == 0 {
		t.Fatal("range scan found nothing")
	}
	removed := 0
	for {
		r, more, err := s.Sweep(ctx, 2, 300)
		if err != nil {
			t.Fatal(err)
		}
		removed += r
		if !more {
			break
		}
	}
	if removed != 1000 {
		t.Fatalf("swept %d, want 1000", removed)
	}
	n = 0
	s.Scan(ctx, "", "", func(string, driver.Entry) bool { n++; return true })
	if n != 1000 {
		t.Fatalf("%d keys after sweep, want 1000", n)
	}
}

func TestClosedBackendFailsWrites(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	s.Close(ctx)
	if err := s.Apply(ctx, []driver.Write{{Key: "k", Entry: entry("v")}}); err == nil {
		t.Error("Apply after Close succeeded")
	}
	if err := s.Apply(ctx, []driver.Write{{Key: "k", Entry: entry("v")}, {Key: "l", Entry: entry("v")}}); err == nil {
		t.Error("Apply of a batch after Close succeeded")
	}
	if err := s.ApplyOne(ctx, driver.Write{Key: "k", Delete: true}); err == nil {
		t.Error("ApplyOne after Close succeeded")
	}
	if _, ok, _ := s.Get(ctx, "k"); ok {
		t.Error("a write after Close was stored")
	}
	if _, err := s.Begin(ctx); err == nil {
		t.Error("Begin after Close succeeded")
	}
}

// sortedEntries returns n entries in key order, every third with a deadline.
func sortedEntries(n int) []driver.Write {
	ws := make([]driver.Write, n)
	for i := range ws {
		e := entry(fmt.Sprintf("value-%d", i))
		if i%3 == 0 {
			e.Expires = 1 // long gone
		}
		ws[i] = driver.Write{Key: fmt.Sprintf("user:%08d", i), Entry: e}
	}
	return ws
}

func writes(ws []driver.Write) iter.Seq2[string, driver.Entry] {
	return func(yield func(string, driver.Entry) bool) {
		for _, w := range ws {
			if !yield(w.Key, w.Entry) {
				return
			}
		}
	}
}

// contents lists a store's entries in scan order.
func contents(t *testing.T, s *memory.Store) []driver.Write {
	t.Helper()
	var out []driver.Write
	if err := s.Scan(context.Background(), "", "", func(k string, e driver.Entry) bool {
		out = append(out, driver.Write{Key: k, Entry: e})
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameWrites(a, b []driver.Write) bool {
	return slices.EqualFunc(a, b, func(x, y driver.Write) bool {
		return x.Key == y.Key && x.Entry.Expires == y.Entry.Expires && x.Entry.Value.Equal(y.Entry.Value)
	})
}

func TestLoad(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{0, 1, 100, 20_000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ws := sortedEntries(n)
			applied := memory.New()
			if err := applied.Apply(ctx, ws); err != nil {
				t.Fatal(err)
			}
			for _, hint := range []int{n, 0, 3 * n} {
				s := memory.New()
				if err := s.Load(hint, writes(ws)); err != nil {
					t.Fatal(err)
				}
				if !sameWrites(contents(t, s), contents(t, applied)) {
					t.Fatalf("hint %d: Load and Apply of the same entries differ", hint)
				}
				for _, w := range ws {
					if e, ok, _ := s.Get(ctx, w.Key); !ok || !e.Value.Equal(w.Entry.Value) {
						t.Fatalf("Get(%q) = %v, %v", w.Key, e.Value.JSON(), ok)
					}
				}
				// The deadlines are counted: a sweep finds the expired.
				removed, _, err := s.Sweep(ctx, 2, n+1)
				if err != nil || removed != (n+2)/3 {
					t.Fatalf("swept %d (%v), want %d", removed, err, (n+2)/3)
				}
				// The store goes on like any other.
				if err := s.Apply(ctx, []driver.Write{{Key: "user:", Entry: entry("x")}, {Key: "zz", Delete: true}}); err != nil {
					t.Fatal(err)
				}
				tx, _ := s.Begin(ctx)
				tx.Get(ctx, "user:")
				if err := tx.Commit(ctx, []driver.Write{{Key: "user:", Entry: entry("y")}}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestLoadRefuses(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	ws := sortedEntries(10_000)
	ws[5000], ws[5001] = ws[5001], ws[5000]
	if err := s.Load(len(ws), writes(ws)); err == nil {
		t.Fatal("Load of keys out of order succeeded")
	}
	dup := sortedEntries(3)
	dup[2].Key = dup[1].Key
	if err := s.Load(0, writes(dup)); err == nil {
		t.Fatal("Load of a key twice succeeded")
	}
	if got := contents(t, s); len(got) != 0 {
		t.Fatalf("a failed Load left %d entries", len(got))
	}
	if _, ok, _ := s.Get(ctx, ws[0].Key); ok {
		t.Fatal("a failed Load left an entry")
	}
	// After failing, the store still takes a Load, but only once.
	if err := s.Load(3, writes(sortedEntries(3))); err != nil {
		t.Fatal(err)
	}
	if err := s.Load(3, writes(sortedEntries(3))); err == nil {
		t.Fatal("Load into a store that is not empty succeeded")
	}
	s.Close(ctx)
	if err := memory.New().Load(0, writes(nil)); err != nil {
		t.Fatal(err)
	}
	if err := s.Load(0, writes(nil)); err == nil {
		t.Fatal("Load into a closed store succeeded")
	}
}

// TestLoadWhileReading reads a store while it loads: readers wait, then see
// every entry (for the race detector as much as for the result).
func TestLoadWhileReading(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	ws := sortedEntries(50_000)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s.Get(ctx, ws[i%len(ws)].Key)
				s.Scan(ctx, "user:0001", "user:0002", func(string, driver.Entry) bool { return true })
			}
		}()
	}
	if err := s.Load(len(ws), writes(ws)); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if got := contents(t, s); len(got) != len(ws) {
		t.Fatalf("%d entries, want %d", len(got), len(ws))
	}
}

// BenchmarkLoad fills a store with 1,000,000 sorted entries: with Load, and
// with Apply in batches of 1024, as the file backend did before Load.
func BenchmarkLoad(b *testing.B) {
	ws := sortedEntries(1_000_000)
	b.Run("method=Load", func(b *testing.B) {
		for b.Loop() {
			if err := memory.New().Load(len(ws), writes(ws)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("method=Apply", func(b *testing.B) {
		for b.Loop() {
			s := memory.New()
			for i := 0; i < len(ws); i += 1024 {
				if err := s.Apply(context.Background(), ws[i:min(i+1024, len(ws))]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

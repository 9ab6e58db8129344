package foxstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/backend/memory"
	"github.com/foxstore/foxstore/driver"
)

// watched is a memory backend shared with "another process" (the test,
// which writes to it directly), declared non-resident so the front caches
// it, and a driver.Watcher whose reports the test sends by hand.
type watched struct {
	*memory.Store
	mu      sync.Mutex
	fn      func([]string)
	stop    <-chan struct{}
	watches int
	fail    bool
}

func (w *watched) Watch(stop <-chan struct{}, fn func([]string)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.watches++
	if w.fail {
		return errors.New("listen: connection refused")
	}
	w.fn, w.stop = fn, stop
	return nil
}

// report sends keys as a notice of another process's writes, unless the
// front closed the watch; it says whether it sent.
func (w *watched) report(keys []string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.stop:
		return false
	default:
	}
	w.fn(keys)
	return true
}

var (
	watchedMu sync.Mutex
	watchedBE *watched
)

func init() {
	driver.Register("watched-memory", driver.Driver{
		Open: func(context.Context, driver.Config) (driver.Backend, error) {
			watchedMu.Lock()
			defer watchedMu.Unlock()
			return watchedBE, nil
		},
	})
}

func openWatched(t *testing.T, fail bool) (foxstore.Store, *watched) {
	t.Helper()
	w := &watched{Store: memory.New(), fail: fail}
	watchedMu.Lock()
	watchedBE = w
	watchedMu.Unlock()
	s := open(t, foxstore.Config{Backend: "watched-memory", CacheSize: 100, CacheTTL: time.Hour})
	return s, w
}

// elsewhere writes key=value to the backend as another process would:
// behind the front's back.
func elsewhere(t *testing.T, w *watched, key, value string) {
	t.Helper()
	v, err := driver.EncodeValue(value)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Apply(context.Background(), []driver.Write{{Key: key, Entry: driver.Entry{Value: v}}}); err != nil {
		t.Fatal(err)
	}
}

func getString(t *testing.T, s foxstore.Store, key string) string {
	t.Helper()
	v, err := foxstore.GetAs[string](context.Background(), s, key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return v
}

func TestWatcherDropsOtherProcessesWrites(t *testing.T) {
	ctx := context.Background()
	s, w := openWatched(t, false)
	for _, k := range []string{"a", "b", "c"} {
		if err := s.Set(ctx, k, "old", 0); err != nil {
			t.Fatal(err)
		}
		getString(t, s, k) // cache it
	}
	elsewhere(t, w, "a", "new")
	elsewhere(t, w, "b", "new")
	elsewhere(t, w, "c", "new")
	// Without a report, the cache serves what it has (cache_ttl is an hour):
	// this is what the Watcher is for.
	if got := getString(t, s, "a"); got != "old" {
		t.Fatalf("before any report: got %q, want the cached %q", got, "old")
	}
	if !w.report([]string{"a"}) {
		t.Fatal("the front closed the watch of a running store")
	}
	if got := getString(t, s, "a"); got != "new" {
		t.Fatalf("after a report of a: got %q, want %q", got, "new")
	}
	if got := getString(t, s, "b"); got != "old" {
		t.Fatalf("b was not reported but its cached copy went: got %q", got)
	}
	// nil means "you may have missed writes": everything goes.
	w.report(nil)
	for _, k := range []string{"b", "c"} {
		if got := getString(t, s, k); got != "new" {
			t.Fatalf("after a nil report: %s = %q, want %q", k, got, "new")
		}
	}
	st, err := s.GetCacheStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Misses < 6 { // 3 first reads, a, b and c after the reports
		t.Fatalf("misses = %d, want at least 6: the reports did not reach the cache", st.Misses)
	}
}

func TestWatcherLifecycle(t *testing.T) {
	ctx := context.Background()
	s, w := openWatched(t, false)
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if w.report([]string{"x"}) {
		t.Fatal("Stop left the watch open")
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !w.report([]string{"x"}) {
		t.Fatal("Start after Stop did not watch again")
	}
	w.mu.Lock()
	n := w.watches
	w.mu.Unlock()
	if n != 2 {
		t.Fatalf("Watch called %d times over two Starts, want 2", n)
	}
}

func TestWatcherFailureKeepsTheStore(t *testing.T) {
	ctx := context.Background()
	s, _ := openWatched(t, true)
	if err := s.Set(ctx, "k", "v", 0); err != nil {
		t.Fatal(err)
	}
	if got := getString(t, s, "k"); got != "v" {
		t.Fatalf("got %q", got)
	}
}

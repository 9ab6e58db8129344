package foxstore

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/sync/singleflight"

	"github.com/foxstore/foxstore/driver"
)

// readCache is the read cache in front of non-resident backends (CONTRACT §9).
//
// Coherence with writes through the same store: every write bumps epoch
// (under mu) after it reached the backend and removes its keys; a miss
// records epoch before it reads the backend and fills the cache only if epoch
// has not moved since (checked under mu). So a value read before a write can
// never be cached after that write returned. Across processes, entries older
// than ttl are not served, and a backend that is a driver.Watcher reports
// other processes' writes, which forget drops at once.
//
// The LRU is hashicorp/golang-lru: small, well kept, and its Add reports
// evictions, which the statistics need. Its simplelru, under mu, rather
// than its own locked Cache: mu guards the epoch anyway, and a Mutex is
// half the locked instructions of the Cache's RWMutex, on every hit.
// Concurrent misses of one key are collapsed into one backend read with
// x/sync/singleflight.
type readCache struct {
	size  int
	ttl   time.Duration
	stats *stats
	group singleflight.Group

	mu    sync.Mutex
	lru   *simplelru.LRU[string, *cached] // guarded by mu
	epoch uint64                          // guarded by mu
}

// cached is a backend answer: an entry, or (ok false) its absence. The LRU
// holds pointers, so that a hit copies a word, not the whole answer.
type cached struct {
	e       driver.Entry
	ok      bool
	fetched time.Time // with its monotonic reading, so cache_ttl ignores clock steps
}

func newReadCache(size int, ttl time.Duration, st *stats) *readCache {
	c, err := simplelru.NewLRU[string, *cached](size, nil)
	if err != nil {
		panic(err) // size > 0 is checked by the caller
	}
	return &readCache{size: size, ttl: ttl, stats: st, lru: c}
}

func (rc *readCache) lookup(key string) (*cached, bool) {
	rc.mu.Lock()
	c, ok := rc.lru.Get(key)
	rc.mu.Unlock()
	if !ok {
		return nil, false
	}
	if time.Since(c.fetched) >= rc.ttl {
		rc.mu.Lock()
		rc.lru.Remove(key)
		rc.mu.Unlock()
		rc.stats.expirations.Add(1)
		return nil, false
	}
	return c, true
}

func (rc *readCache) fill(key string, c *cached, epoch uint64) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.epoch == epoch {
		if rc.lru.Add(key, c) {
			rc.stats.evictions.Add(1)
		}
	}
}

func (rc *readCache) currentEpoch() uint64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.epoch
}

func (rc *readCache) get(ctx context.Context, b driver.Backend, key string) (driver.Entry, bool, error) {
	if c, ok := rc.lookup(key); ok {
		rc.stats.hits.Add(1)
		return c.e, c.ok, nil
	}
	rc.stats.misses.Add(1)
	// Misses share a backend read only within one epoch: a Get that starts
	// after a write returned must not join a read that began before it.
	epoch := rc.currentEpoch()
	flight := key + "\x00" + strconv.FormatUint(epoch, 36)
	v, err, _ := rc.group.Do(flight, func() (any, error) {
		e, ok, err := b.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		c := &cached{e: e, ok: ok, fetched: time.Now()}
		rc.fill(key, c, epoch)
		return c, nil
	})
	if err != nil {
		return driver.Entry{}, false, err
	}
	c := v.(*cached)
	return c.e, c.ok, nil
}

func (rc *readCache) getMany(ctx context.Context, b driver.Backend, keys []string, fn func(string, driver.Entry)) error {
	var missing []string
	for _, k := range keys {
		if c, ok := rc.lookup(k); ok {
			rc.stats.hits.Add(1)
			if c.ok {
				fn(k, c.e)
			}
			continue
		}
		rc.stats.misses.Add(1)
		missing = append(missing, k)
	}
	if len(missing) == 0 {
		return nil
	}
	epoch := rc.currentEpoch()
	now := time.Now()
	got := make(map[string]driver.Entry, len(missing))
	err := getMany(ctx, b, missing, func(k string, e driver.Entry) { got[k] = e })
	if err != nil {
		return err
	}
	for _, k := range missing {
		e, ok := got[k]
		rc.fill(k, &cached{e: e, ok: ok, fetched: now}, epoch)
		if ok {
			fn(k, e)
		}
	}
	return nil
}

// invalidate runs after every write through the store, whether it succeeded
// or not (a failed write may still have reached the backend).
func (rc *readCache) invalidate(ws []driver.Write) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.epoch++
	for _, w := range ws {
		rc.lru.Remove(w.Key)
	}
}

// forget drops the cached copies of keys that another process changed, or
// every cached entry when keys is nil (driver.Watcher). Like invalidate, it
// moves the epoch, so a read that began before the change cannot fill the
// cache after it.
func (rc *readCache) forget(keys []string) {
	if keys == nil {
		rc.purge()
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.epoch++
	for _, k := range keys {
		rc.lru.Remove(k)
	}
}

func (rc *readCache) purge() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.epoch++
	rc.lru.Purge()
}

func (rc *readCache) len() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.lru.Len()
}

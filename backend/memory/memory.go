// Package memory is foxstore's in-memory backend, for temporary data and
// tests. It is always linked: backend "memory" in the configuration.
//
// # Design
//
// Entries live in 64 shards, each a map guarded by its own RWMutex, so that
// point reads on different keys rarely touch the same lock or cache line. The
// keys are also kept in one ordered index (a google/btree B-tree, chosen for
// its generic API and its long use in etcd) that serves range scans, so a
// pattern with a literal prefix reads only its range instead of every key.
//
// The index changes only when a key is created or removed, always while the
// key's shard is locked (lock order: shards in index order, then the index),
// so a key is in the index exactly when it is in its shard's map. Scans copy
// the index a slice at a time and read each entry under its shard lock, and
// expiry sweeps walk the index a slice at a time from a cursor, so neither
// holds a lock for more than a slice's worth of work.
//
// Batches lock every shard they touch (in index order) and so are atomic to
// readers too: GetMany, which takes the same shard locks for reading, never
// sees half a batch. Transactions are optimistic: each entry carries a
// version, a transaction remembers the version of every key it read, and its
// commit locks the shards of its read and write sets, checks the versions and
// applies the writes, or fails with ErrStorageConflict.
//
// Load fills an empty store in bulk from entries sorted by key, as the file
// backend does when it opens a snapshot: about twice as fast as Apply,
// because it sizes each map once, fills one map at a time on every core
// and builds the index meanwhile from the keys in order.
package memory

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"iter"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/google/btree"

	"github.com/foxstore/foxstore/driver"
)

func init() {
	driver.Register("memory", driver.Driver{
		Open:     func(context.Context, driver.Config) (driver.Backend, error) { return New(), nil },
		Resident: true,
	})
}

const nShards = 64

// scanSlice is how many keys a scan or sweep reads from the index per lock hold.
const scanSlice = 256

// degree is the index's B-tree degree: nodes hold up to 2*degree-1 keys.
// Measured on a million keys: random inserts, deletes and scans cost the
// same at 32, 64 and 128, while building the index in key order (Load)
// gets faster as nodes grow: opening a file store of a million entries
// took about a tenth less time at 64 than at 32.
const degree = 64

func newIndex() *btree.BTreeG[string] {
	return btree.NewG[string](degree, func(a, b string) bool { return a < b })
}

// Store is the memory backend.
type Store struct {
	seed   maphash.Seed
	shards [nShards]shard

	idxMu sync.RWMutex
	idx   *btree.BTreeG[string] // every key; guarded by idxMu

	withTTL atomic.Int64 // entries with a deadline, so sweeps can skip work
	closed  atomic.Bool

	sweepMu     sync.Mutex
	sweepCursor string // where the next sweep starts; guarded by sweepMu
}

type shard struct {
	mu  sync.RWMutex
	m   map[string]*item // guarded by mu; an item changes in place, under mu
	ver uint64           // last version handed out; guarded by mu
	_   [40]byte         // keep shards on separate cache lines
}

type item struct {
	e   driver.Entry
	ver uint64
}

var errClosed = &driver.Error{Code: driver.CodeClosed}

// New returns an empty, open memory backend.
func New() *Store {
	s := &Store{seed: maphash.MakeSeed(), idx: newIndex()}
	for i := range s.shards {
		s.shards[i].m = map[string]*item{}
	}
	return s
}

func (s *Store) shardOf(key string) int {
	return int(maphash.String(s.seed, key) % nShards)
}

// Get implements driver.Backend.
func (s *Store) Get(_ context.Context, key string) (driver.Entry, bool, error) {
	sh := &s.shards[s.shardOf(key)]
	sh.mu.RLock()
	it := sh.m[key]
	if it == nil {
		sh.mu.RUnlock()
		return driver.Entry{}, false, nil
	}
	e := it.e
	sh.mu.RUnlock()
	return e, true, nil
}

// GetMany implements driver.BatchGetter; it reads all keys at one instant.
func (s *Store) GetMany(_ context.Context, keys []string, fn func(string, driver.Entry)) error {
	idx := s.shardSet(keys, nil)
	for _, i := range idx {
		s.shards[i].mu.RLock()
	}
	found := make([]driver.Entry, len(keys))
	ok := make([]bool, len(keys))
	for j, k := range keys {
		if it := s.shards[s.shardOf(k)].m[k]; it != nil {
			found[j], ok[j] = it.e, true
		}
	}
	for _, i := range idx {
		s.shards[i].mu.RUnlock()
	}
	for j, k := range keys {
		if ok[j] {
			fn(k, found[j])
		}
	}
	return nil
}

// shardSet returns the sorted, distinct shard numbers of keys and of ws.
func (s *Store) shardSet(keys []string, ws []driver.Write) []int {
	var seen [nShards]bool
	out := make([]int, 0, min(nShards, len(keys)+len(ws)))
	add := func(k string) {
		if i := s.shardOf(k); !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	for _, k := range keys {
		add(k)
	}
	for _, w := range ws {
		add(w.Key)
	}
	slices.Sort(out)
	return out
}

// Scan implements driver.Backend.
func (s *Store) Scan(ctx context.Context, start, end string, fn func(string, driver.Entry) bool) error {
	keys := make([]string, 0, scanSlice)
	from := start
	for {
		keys = keys[:0]
		s.idxMu.RLock()
		s.idx.AscendGreaterOrEqual(from, func(k string) bool {
			if end != "" && k >= end {
				return false
			}
			keys = append(keys, k)
			return len(keys) < scanSlice
		})
		s.idxMu.RUnlock()
		if len(keys) == 0 {
			return nil
		}
		for _, k := range keys {
			sh := &s.shards[s.shardOf(k)]
			sh.mu.RLock()
			it := sh.m[k]
			var e driver.Entry
			if it != nil {
				e = it.e
			}
			sh.mu.RUnlock()
			if it != nil && !fn(k, e) {
				return nil
			}
		}
		if len(keys) < scanSlice {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// Resume at the least key after the last one read.
		from = keys[len(keys)-1] + "\x00"
	}
}

// Apply implements driver.Backend.
func (s *Store) Apply(_ context.Context, ws []driver.Write) error {
	if s.closed.Load() {
		return errClosed
	}
	if len(ws) == 1 {
		sh := &s.shards[s.shardOf(ws[0].Key)]
		sh.mu.Lock()
		s.write(sh, ws[0])
		sh.mu.Unlock()
		return nil
	}
	idx := s.shardSet(nil, ws)
	s.lock(idx)
	for _, w := range ws {
		s.write(&s.shards[s.shardOf(w.Key)], w)
	}
	s.unlock(idx)
	return nil
}

func (s *Store) lock(idx []int) {
	for _, i := range idx {
		s.shards[i].mu.Lock()
	}
}

func (s *Store) unlock(idx []int) {
	for _, i := range idx {
		s.shards[i].mu.Unlock()
	}
}

// write applies w; the caller holds sh.mu for writing.
func (s *Store) write(sh *shard, w driver.Write) {
	old := sh.m[w.Key]
	if old != nil && old.e.Expires != 0 {
		s.withTTL.Add(-1)
	}
	if w.Delete {
		if old != nil {
			delete(sh.m, w.Key)
			s.idxMu.Lock()
			s.idx.Delete(w.Key)
			s.idxMu.Unlock()
		}
		return
	}
	sh.ver++
	if w.Entry.Expires != 0 {
		s.withTTL.Add(1)
	}
	if old != nil {
		// Readers copy an item under the shard's read lock, so it can
		// change in place: an overwrite allocates nothing and looks the
		// key up once.
		old.e, old.ver = w.Entry, sh.ver
		return
	}
	sh.m[w.Key] = &item{e: w.Entry, ver: sh.ver}
	s.idxMu.Lock()
	s.idx.ReplaceOrInsert(w.Key)
	s.idxMu.Unlock()
}

// loadBatch is how many keys Load hands to the goroutine building the index
// at a time.
const loadBatch = 4096

// Load fills an empty store with entries, which must come in strictly
// ascending key order, as a backend reads them from a sorted file at
// startup; n is how many to expect (a hint: 0 when unknown). It is much
// faster than Apply: each shard's map is filled at once, sized exactly,
// with nothing looked up before it is stored, on every core; meanwhile
// another goroutine builds the index from the keys in order, so that every
// insertion lands at the index's right edge. Readers wait until it returns.
//
// Load fails and leaves the store empty when the store is not empty or a
// key does not follow the one before it.
func (s *Store) Load(n int, entries iter.Seq2[string, driver.Entry]) error {
	if s.closed.Load() {
		return errClosed
	}
	all := make([]int, nShards)
	for i := range all {
		all[i] = i
	}
	s.lock(all)
	defer s.unlock(all)
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	if s.idx.Len() > 0 {
		return errors.New("memory: Load into a store that is not empty")
	}

	// Room for every batch, so that sorting the entries by shard never
	// waits for the index, and the maps fill while the index is built.
	keys := make(chan []string, n/loadBatch+4)
	built := make(chan *btree.BTreeG[string])
	go func() {
		idx := newIndex()
		for batch := range keys {
			for _, k := range batch {
				idx.ReplaceOrInsert(k)
			}
		}
		built <- idx
	}()

	// Sort the entries by shard first, then fill each shard's map at once,
	// sized exactly, one shard per core at a time: a map stays in the
	// processor's cache while it fills, where inserts in key order would
	// land all over every map and miss the cache almost every time. A
	// shard gets about n/nShards entries, give or take a few times the
	// square root of that: an eighth more is room enough.
	type loaded struct {
		key string
		e   driver.Entry
	}
	per := n / nShards
	per += per/8 + 8
	byShard := make([][]loaded, nShards)
	for i := range byShard {
		byShard[i] = make([]loaded, 0, per)
	}
	var err error
	var prev string
	count, withTTL := 0, int64(0)
	batch := make([]string, 0, loadBatch)
	for k, e := range entries {
		if count > 0 && k <= prev {
			err = fmt.Errorf("memory: Load: key %q after %q: keys must ascend", k, prev)
			break
		}
		i := s.shardOf(k)
		byShard[i] = append(byShard[i], loaded{k, e})
		if e.Expires != 0 {
			withTTL++
		}
		batch = append(batch, k)
		if len(batch) == loadBatch {
			keys <- batch
			batch = make([]string, 0, loadBatch)
		}
		prev = k
		count++
	}
	if len(batch) > 0 {
		keys <- batch
	}
	close(keys)
	if err != nil {
		<-built
		return err
	}
	maps := make([]map[string]*item, nShards)
	var next atomic.Int32
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), nShards) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < nShards; i = int(next.Add(1)) - 1 {
				sh := &s.shards[i]
				m := make(map[string]*item, len(byShard[i]))
				// One array holds the shard's items: one allocation
				// instead of one per entry. (The array lives until its
				// last item is deleted; overwrites reuse their item.)
				items := make([]item, len(byShard[i]))
				for j, l := range byShard[i] {
					sh.ver++
					items[j] = item{e: l.e, ver: sh.ver}
					m[l.key] = &items[j]
				}
				maps[i], byShard[i] = m, nil
			}
		}()
	}
	wg.Wait()
	idx := <-built
	for i := range s.shards {
		s.shards[i].m = maps[i]
	}
	s.idx = idx
	s.withTTL.Add(withTTL)
	return nil
}

// Sweep implements driver.Sweeper: it walks the index from where the last
// call stopped and removes up to limit expired entries.
func (s *Store) Sweep(ctx context.Context, nowMs int64, limit int) (int, bool, error) {
	if s.withTTL.Load() == 0 {
		return 0, false, nil
	}
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	var keys []string
	s.idxMu.RLock()
	s.idx.AscendGreaterOrEqual(s.sweepCursor, func(k string) bool {
		keys = append(keys, k)
		return len(keys) < limit
	})
	s.idxMu.RUnlock()
	removed := 0
	for _, k := range keys {
		sh := &s.shards[s.shardOf(k)]
		sh.mu.Lock()
		if it := sh.m[k]; it != nil && !it.e.Live(nowMs) {
			s.write(sh, driver.Write{Key: k, Delete: true})
			removed++
		}
		sh.mu.Unlock()
	}
	if len(keys) < limit {
		s.sweepCursor = "" // wrapped around: the next sweep starts over
		return removed, false, ctx.Err()
	}
	s.sweepCursor = keys[len(keys)-1] + "\x00"
	return removed, true, ctx.Err()
}

// Begin implements driver.Backend.
func (s *Store) Begin(context.Context) (driver.Tx, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	return &tx{s: s, reads: map[string]uint64{}}, nil
}

// Close implements driver.Backend. The data is dropped with the Store.
func (s *Store) Close(context.Context) error {
	s.closed.Store(true)
	return nil
}

// tx is an optimistic transaction: it records the version of every key it
// reads (0 for a missing key) and commits only if none has changed.
type tx struct {
	s     *Store
	reads map[string]uint64
}

func (t *tx) Get(_ context.Context, key string) (driver.Entry, bool, error) {
	sh := &t.s.shards[t.s.shardOf(key)]
	var (
		e   driver.Entry
		ver uint64
	)
	sh.mu.RLock()
	it := sh.m[key]
	if it != nil {
		e, ver = it.e, it.ver
	}
	sh.mu.RUnlock()
	if _, seen := t.reads[key]; !seen {
		t.reads[key] = ver
	}
	return e, it != nil, nil
}

var errConflict = &driver.Error{Code: driver.CodeConflict, Err: errors.New("a key read by the transaction changed before commit")}

func (t *tx) Commit(_ context.Context, ws []driver.Write) error {
	s := t.s
	if s.closed.Load() {
		return errClosed
	}
	keys := make([]string, 0, len(t.reads))
	for k := range t.reads {
		keys = append(keys, k)
	}
	idx := s.shardSet(keys, ws)
	s.lock(idx)
	defer s.unlock(idx)
	for k, ver := range t.reads {
		var cur uint64
		if it := s.shards[s.shardOf(k)].m[k]; it != nil {
			cur = it.ver
		}
		if cur != ver {
			return errConflict
		}
	}
	for _, w := range ws {
		s.write(&s.shards[s.shardOf(w.Key)], w)
	}
	return nil
}

func (t *tx) Rollback() error { return nil }

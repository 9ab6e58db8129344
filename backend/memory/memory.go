// Package memory is foxstore's in-memory backend, for temporary data and
// tests. It is always linked: backend "memory" in the configuration.
//
// # Design
//
// Entries live in 64 shards, each an open-addressing hash table (table.go)
// that readers search without taking a lock or writing to shared memory, so
// reads on any number of cores never contend. Keys are also kept in one
// ordered index (a google/btree B-tree, chosen for its generic API and its
// long use in etcd) that serves range scans, so a pattern with a literal
// prefix reads only its range instead of every key.
//
// One 64-bit hash per key (hash.go) does all the work: its top bits pick
// the shard, its low bits the slot, and it is stored in the slot to skip the
// keys that do not match. A slot holds a pointer to an item (item.go): the
// key and its entry, with a key of up to 64 bytes copied into the item's own
// allocation, so that a search that reads the item finds its key there too
// (in the item's one cache line, for a key of up to 16 bytes). Each shard has a writer
// mutex. An overwrite changes the item in place under it, as a seqlock: the
// item's version word is odd while its entry's words are stored, and a reader
// that saw the word change reads again. Adding a key stores a new item in a
// slot, removing one a tombstone, each one atomic store. So readers take no
// lock. Each shard also has a sequence number that is odd while a batch (or a
// Load) changes the shard; a reader checks it before and after its search
// and, if a batch got in the way (or overwrites did, a few tries running),
// reads again under the mutex. A batch makes all its shards odd before its
// first write and even after its last, so a reader never sees half a batch.
// GetMany, which reads several keys at one instant, reads under the shards'
// mutexes.
// (Go's built-in map cannot be read while it is written, which is why the
// shards do not use one: with a map, every read takes a lock, and the lock's
// reader count is a cache line that all cores write.)
//
// The index changes only when a key is created or removed, always while the
// key's shard is locked (lock order: shards in index order, then the index),
// so a key is in the index exactly when it is in its shard. Scans copy the
// index a slice at a time and read each entry as Get does, and expiry sweeps
// walk the index a slice at a time from a cursor, so neither holds a lock for
// more than a slice's worth of work.
//
// Transactions are optimistic. A key's version is its item and the item's
// count of writes: a transaction remembers the version it read of each key
// (no item for a missing key), and its commit locks the shards of its read
// and write sets, checks that each key still has that version and applies
// the writes, or fails with ErrStorageConflict. (An item a transaction
// holds cannot be freed, so it cannot come back as another key's item; a
// removed item is never written again.)
//
// Load fills an empty store in bulk from entries sorted by key, as the file
// backend does when it opens a snapshot: much faster than Apply, because it
// sizes each table once, fills one table at a time on every core and builds
// the index meanwhile from the keys in order.
package memory

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/google/btree"

	"github.com/foxstore/foxstore/driver"
	"github.com/foxstore/foxstore/internal/words"
)

func init() {
	driver.Register("memory", driver.Driver{
		Open:     func(context.Context, driver.Config) (driver.Backend, error) { return New(), nil },
		Resident: true,
	})
}

// shardBits sets the number of shards. More shards mean fewer writers per
// shard lock and smaller tables to rebuild when one grows (a rebuild holds
// its shard's writers, never its readers), but measured on 100,000 keys,
// Gets were a quarter slower with 256 shards than with 64: the shard array
// (16 KiB against 4) crowds the processor's cache.
const (
	shardBits  = 6
	nShards    = 1 << shardBits
	shardShift = 64 - shardBits
)

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
	shards [nShards]shard // first, so that each shard has its own cache line
	hasher hasher         // read by every search
	_      [64]byte       // so that idxMu, which writers lock, is on another line

	idxMu sync.RWMutex
	idx   *btree.BTreeG[string] // every key; guarded by idxMu

	withTTL atomic.Int64 // entries with a deadline, so sweeps can skip work
	closed  atomic.Bool

	sweepMu     sync.Mutex
	sweepCursor string // where the next sweep starts; guarded by sweepMu
}

type shard struct {
	mu  sync.Mutex            // held by writers
	seq atomic.Uint64         // odd while a batch changes the shard
	tab atomic.Pointer[table] // replaced whole when it grows or shrinks
	_   [40]byte              // keep shards on separate cache lines
}

var errClosed = &driver.Error{Code: driver.CodeClosed}

// New returns an empty, open memory backend.
func New() *Store {
	s := &Store{hasher: newHasher(), idx: newIndex()}
	for i := range s.shards {
		s.shards[i].tab.Store(newTable(0))
	}
	return s
}

// hash is the hash of key that the store's tables use (hash.go).
func (s *Store) hash(key string) uint64 { return s.hasher.sum(key) }

func shardOf(h uint64) int { return int(h >> shardShift) }

// find returns the entry under key, whose hash is h, and its version (with
// a nil item when there is no such key): without a lock when no writer gets
// in the way, else under the shard's mutex. (Two results rather than one
// struct of both: the compiler keeps each in registers, where a struct of
// their size would go through memory, which cost Get a quarter more.)
func (s *Store) find(h uint64, key string) (driver.Entry, version) {
	sh := &s.shards[shardOf(h)]
	// A batch keeps seq odd for microseconds at most, a single write keeps
	// an item busy for nanoseconds: a few tries spare the readers of a
	// busy shard from queueing on its mutex.
	for range optimisticTries {
		if q := sh.seq.Load(); q&1 == 0 {
			t := sh.tab.Load()
			it := t.candidate(h)
			if it != nil && !sameKey(it.key, key) {
				it = t.find(h, key)
			}
			if it == nil {
				if sh.seq.Load() == q {
					return driver.Entry{}, version{}
				}
				continue
			}
			k, x, exp, n, ok := it.loadWords()
			if ok && sh.seq.Load() == q {
				if v, ok := driver.JoinValue(k, x); ok {
					return driver.Entry{Value: v, Expires: exp}, version{it, n}
				}
			}
		}
	}
	sh.mu.Lock()
	e, v := sh.findLocked(h, key)
	sh.mu.Unlock()
	return e, v
}

// findLocked is find for the holder of the shard's mutex.
func (sh *shard) findLocked(h uint64, key string) (driver.Entry, version) {
	it := sh.tab.Load().find(h, key)
	if it == nil {
		return driver.Entry{}, version{}
	}
	e, n := it.loadLocked()
	return e, version{it, n}
}

// optimisticTries is how many lock-free searches find makes before it
// waits for the shard's writer on the mutex.
const optimisticTries = 4

// Get implements driver.Backend.
//
// The commonest read, of a key of 8 to 16 bytes that is found at once with
// no writer in the way, is done here with nothing but inlined code; anything
// else goes to getSlow, which find serves. Keeping every call off the
// common path spares it the spills and reloads of registers a call costs (a
// Go call preserves no register), which is most of the instructions this
// saves. The time of a Get that misses the processor's caches grows with
// its instructions (BENCHMARKS.md, session 7).
func (s *Store) Get(_ context.Context, key string) (driver.Entry, bool, error) {
	if !words.Short(key) {
		return s.getSlow(s.hasher.sumOther(key), key)
	}
	// hasher.sum and sameKey, with the key's words loaded once for both.
	x, y := words.Pair(key)
	h := s.hasher.mix(x, y, len(key))
	sh := &s.shards[shardOf(h)]
	q := sh.seq.Load()
	it := sh.tab.Load().candidate(h)
	if it == nil || q&1 != 0 || len(it.key) != len(key) {
		return s.getSlow(h, key)
	}
	if x0, y0 := words.Pair(it.key); x0 != x || y0 != y {
		return s.getSlow(h, key)
	}
	// The second look at seq, as in find, dates the answer to an instant
	// when no batch was under way. (A Get that returned a value a batch had
	// written before the batch was done could not be told from one that
	// came after it: any later read of the shard waits for the batch.)
	k, v, exp, _, ok := it.loadWords()
	if !ok || sh.seq.Load() != q {
		return s.getSlow(h, key)
	}
	val, ok := driver.JoinValue(k, v)
	if !ok {
		return s.getSlow(h, key)
	}
	return driver.Entry{Value: val, Expires: exp}, true, nil
}

// getSlow is Get for the key key, whose hash is h, by way of find.
//
//go:noinline
func (s *Store) getSlow(h uint64, key string) (driver.Entry, bool, error) {
	e, v := s.find(h, key)
	return e, v.it != nil, nil
}

// GetMany implements driver.BatchGetter; it reads all keys at one instant.
func (s *Store) GetMany(_ context.Context, keys []string, fn func(string, driver.Entry)) error {
	hs := make([]uint64, len(keys))
	for j, k := range keys {
		hs[j] = s.hash(k)
	}
	// Under the shards' mutexes: a single write changes a table without
	// touching the sequence number (see ApplyOne), so only the mutexes
	// keep two keys from being read at two different instants.
	idx := shardSet(hs, nil)
	es := make([]driver.Entry, len(keys))
	vs := make([]version, len(keys))
	s.lock(idx)
	for j, k := range keys {
		es[j], vs[j] = s.shards[shardOf(hs[j])].findLocked(hs[j], k)
	}
	s.unlock(idx)
	for j, k := range keys {
		if vs[j].it != nil {
			fn(k, es[j])
		}
	}
	return nil
}

// shardSet returns the sorted, distinct shard numbers of the hashes hs and of
// the writes ws.
func shardSet(hs []uint64, ws []hashedWrite) []int {
	var seen [nShards]bool
	out := make([]int, 0, min(nShards, len(hs)+len(ws)))
	add := func(h uint64) {
		if i := shardOf(h); !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	for _, h := range hs {
		add(h)
	}
	for _, w := range ws {
		add(w.h)
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
			if e, v := s.find(s.hash(k), k); v.it != nil && !fn(k, e) {
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

// hashedWrite is a write with its key's hash.
type hashedWrite struct {
	driver.Write
	h uint64
}

// Apply implements driver.Backend.
func (s *Store) Apply(ctx context.Context, ws []driver.Write) error {
	if len(ws) == 1 {
		return s.ApplyOne(ctx, ws[0])
	}
	if s.closed.Load() {
		return errClosed
	}
	hws := make([]hashedWrite, len(ws))
	for j, w := range ws {
		hws[j] = hashedWrite{w, s.hash(w.Key)}
	}
	idx := shardSet(nil, hws)
	s.lock(idx)
	s.applyLocked(hws)
	s.unlock(idx)
	return nil
}

// ApplyOne implements driver.OneWriter: Apply of one write, with no slice.
func (s *Store) ApplyOne(_ context.Context, w driver.Write) error {
	if s.closed.Load() {
		return errClosed
	}
	h := s.hash(w.Key)
	sh := &s.shards[shardOf(h)]
	sh.mu.Lock()
	t := sh.tab.Load()
	if !w.Delete {
		t = sh.reserve(t, 1)
	}
	// One write is one atomic store of a slot, or an overwrite guarded by
	// its item's version word: a reader sees it whole or not at all, so
	// there is no need to make seq odd (and send readers that look
	// meanwhile to the mutex) for it. GetMany, which reads several keys at
	// one instant, takes the mutexes instead.
	s.write(t, hashedWrite{w, h})
	sh.shrink(t)
	sh.mu.Unlock()
	return nil
}

// applyLocked performs ws, whose shards the caller has locked (with perhaps
// others, such as those a transaction only read): it makes room first, then
// changes every shard it writes within one odd sequence number, so that no
// reader sees part of it.
func (s *Store) applyLocked(ws []hashedWrite) {
	if len(ws) == 0 {
		return
	}
	idx := shardSet(nil, ws)
	var adds [nShards]int
	for _, w := range ws {
		if !w.Delete {
			adds[shardOf(w.h)]++
		}
	}
	var tabs [nShards]*table
	for _, i := range idx {
		sh := &s.shards[i]
		tabs[i] = sh.reserve(sh.tab.Load(), adds[i])
	}
	for _, i := range idx {
		s.shards[i].seq.Add(1)
	}
	for _, w := range ws {
		s.write(tabs[shardOf(w.h)], w)
	}
	for _, i := range idx {
		s.shards[i].seq.Add(1)
	}
	for _, i := range idx {
		s.shards[i].shrink(tabs[i])
	}
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

// write applies w to t, the table of w's shard. The caller holds the shard's
// mutex, has made its seq odd if w is part of a batch, and has reserved room
// for w in t.
func (s *Store) write(t *table, w hashedWrite) {
	i, old, free := t.lookup(w.h, w.Key)
	var ttls int64 // the change in entries with a deadline
	if old != nil && old.expires() != 0 {
		ttls--
	}
	if !w.Delete && w.Entry.Expires != 0 {
		ttls++
	}
	if ttls != 0 {
		s.withTTL.Add(ttls)
	}
	if w.Delete {
		if old != nil {
			t.remove(i)
			s.idxMu.Lock()
			s.idx.Delete(w.Key)
			s.idxMu.Unlock()
		}
		return
	}
	if old != nil {
		old.store(w.Entry)
		return
	}
	t.add(i, free, w.h, newItem(w.Key, w.Entry))
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
// faster than Apply: each shard's table is sized once and filled at once,
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
	// Readers wait on the shard mutexes until the whole store is there.
	for i := range s.shards {
		s.shards[i].seq.Add(1)
	}
	defer func() {
		for i := range s.shards {
			s.shards[i].seq.Add(1)
		}
	}()

	// Room for every batch, so that sorting the entries by shard never
	// waits for the index, and the tables fill while the index is built.
	keys := make(chan []string, n/loadBatch+4)
	built := make(chan *btree.BTreeG[string], 1)
	keysClosed := false
	defer func() {
		if !keysClosed { // entries panicked: let the index builder end
			close(keys)
		}
	}()
	go func() {
		idx := newIndex()
		for batch := range keys {
			for _, k := range batch {
				idx.ReplaceOrInsert(k)
			}
		}
		built <- idx
	}()

	// Sort the entries by shard first, then fill each shard's table at
	// once, sized once, one shard per core at a time: a table stays in
	// the processor's cache while it fills, where inserts in key order
	// would land all over every table and miss the cache almost every
	// time. A shard gets about n/nShards entries, give or take a few times
	// the square root of that: an eighth more is room enough.
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
		h := s.hash(k)
		i := shardOf(h)
		byShard[i] = append(byShard[i], loaded{k, h, e})
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
	keysClosed = true
	if err != nil {
		<-built
		return err
	}
	tabs := make([]*table, nShards)
	var next atomic.Int32
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), nShards) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < nShards; i = int(next.Add(1)) - 1 {
				tabs[i] = fill(byShard[i])
				byShard[i] = nil
			}
		}()
	}
	wg.Wait()
	idx := <-built
	for i := range s.shards {
		s.shards[i].tab.Store(tabs[i])
	}
	s.idx = idx
	s.withTTL.Add(withTTL)
	return nil
}

// loaded is an entry on its way into a shard, in Load.
type loaded struct {
	key string
	h   uint64
	e   driver.Entry
}

// fill returns a new table that holds the entries ls, whose keys are
// distinct. Each item is allocated on its own: items carved out of one array
// per shard would be one allocation instead of a million, but the array, and
// every value in it, would live as long as any one of its items, so the
// values of keys removed since the open would never be freed.
func fill(ls []loaded) *table {
	t := newTable(len(ls))
	for _, l := range ls {
		t.insert(l.h, newItem(l.key, l.e))
	}
	return t
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
		h := s.hash(k)
		sh := &s.shards[shardOf(h)]
		sh.mu.Lock()
		t := sh.tab.Load()
		if it := t.find(h, k); it != nil && !(driver.Entry{Expires: it.expires()}).Live(nowMs) {
			s.write(t, hashedWrite{driver.Write{Key: k, Delete: true}, h}) // one write: see ApplyOne
			sh.shrink(t)
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
	return &tx{s: s, reads: map[string]txRead{}}, nil
}

// Close implements driver.Backend. The data is dropped with the Store.
func (s *Store) Close(context.Context) error {
	s.closed.Store(true)
	return nil
}

// tx is an optimistic transaction: it records the version it read of every
// key and commits only if none has changed. A key read again gets the answer
// of the first read: the item may have been overwritten in place since, and
// a transaction that saw two states of one key could act on a state that
// never was (a missing key, then present, then missing again at commit would
// pass the commit's check).
type tx struct {
	s     *Store
	reads map[string]txRead
}

// version identifies what a key held: the item (nil for no key) and how
// many times it had been written.
type version struct {
	it     *item
	writes uint64
}

// txRead is a transaction's first read of a key.
type txRead struct {
	e driver.Entry
	v version
}

func (t *tx) Get(_ context.Context, key string) (driver.Entry, bool, error) {
	r, seen := t.reads[key]
	if !seen {
		r.e, r.v = t.s.find(t.s.hash(key), key)
		t.reads[key] = r
	}
	return r.e, r.v.it != nil, nil
}

var errConflict = &driver.Error{Code: driver.CodeConflict, Err: errors.New("a key read by the transaction changed before commit")}

func (t *tx) Commit(_ context.Context, ws []driver.Write) error {
	s := t.s
	if s.closed.Load() {
		return errClosed
	}
	reads := make([]uint64, 0, len(t.reads))
	for k := range t.reads {
		reads = append(reads, s.hash(k))
	}
	hws := make([]hashedWrite, len(ws))
	for j, w := range ws {
		hws[j] = hashedWrite{w, s.hash(w.Key)}
	}
	idx := shardSet(reads, hws)
	s.lock(idx)
	defer s.unlock(idx)
	for k, read := range t.reads {
		h := s.hash(k)
		if _, v := s.shards[shardOf(h)].findLocked(h, k); v != read.v {
			return errConflict
		}
	}
	s.applyLocked(hws)
	return nil
}

func (t *tx) Rollback() error { return nil }

package memory

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/foxstore/foxstore/driver"
)

func stringEntry(tb testing.TB, s string) driver.Entry {
	v, err := driver.EncodeValue(s)
	if err != nil {
		tb.Fatal(err)
	}
	return driver.Entry{Value: v}
}

// keysInShard returns n keys that all land in one shard of s.
func keysInShard(s *Store, shard, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		if k := fmt.Sprintf("k%d", i); shardOf(s.hash(k)) == shard {
			out = append(out, k)
		}
	}
	return out
}

// TestChurnRebuildsRarely: with a steady number of keys, removing one and
// adding another must not copy the table each time. (A table rebuilt with no
// room to spare was copied on every such pair once its tombstones reached
// the limit.)
func TestChurnRebuildsRarely(t *testing.T) {
	ctx := context.Background()
	s := New()
	const live, pairs = 1024, 20_000
	keys := keysInShard(s, 3, live+pairs)
	for _, k := range keys[:live] {
		s.ApplyOne(ctx, driver.Write{Key: k, Entry: stringEntry(t, "v")})
	}
	sh := &s.shards[3]
	rebuilds := 0
	tab := sh.tab.Load()
	for i := 0; i < pairs; i++ {
		s.ApplyOne(ctx, driver.Write{Key: keys[i], Delete: true})
		s.ApplyOne(ctx, driver.Write{Key: keys[live+i], Entry: stringEntry(t, "v")})
		if t2 := sh.tab.Load(); t2 != tab {
			rebuilds, tab = rebuilds+1, t2
		}
	}
	// A rebuilt table has an eighth of its slots (at least 2.67x live/8
	// here) free before the next rebuild.
	if max := pairs / (live / 4); rebuilds > max {
		t.Fatalf("%d table rebuilds in %d remove-and-add pairs, want at most %d", rebuilds, pairs, max)
	}
	if got := tab.live; got != live {
		t.Fatalf("table holds %d items, want %d", got, live)
	}
}

// TestLoadedValuesAreFreed: values that a Load brought in and whose keys
// were then removed must become garbage. (Items carved out of one array per
// shard kept every loaded value alive while any item of the array was.)
func TestLoadedValuesAreFreed(t *testing.T) {
	ctx := context.Background()
	s := New()
	const n, size = 4096, 4096 // 16 MiB of values
	big := strings.Repeat("x", size)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%05d", i)
	}
	err := s.Load(n, func(yield func(string, driver.Entry) bool) {
		for i, k := range keys {
			// A copy per key, so each value is its own allocation.
			if !yield(k, stringEntry(t, big[:size-1]+string(rune('a'+i%26)))) {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	// Remove every key but one per shard.
	kept := map[int]bool{}
	for _, k := range keys {
		if sh := shardOf(s.hash(k)); !kept[sh] {
			kept[sh] = true
			continue
		}
		s.ApplyOne(ctx, driver.Write{Key: k, Delete: true})
	}
	after := heap()
	freed := int64(before) - int64(after)
	if want := int64(n-len(kept)) * size / 2; freed < want {
		t.Fatalf("removing %d values of %d bytes freed %d bytes, want at least %d", n-len(kept), size, freed, want)
	}
	runtime.KeepAlive(s)
}

// TestLoadPanicLeavesNoGoroutine: an entries iterator that panics must not
// leave Load's index builder waiting forever, nor the store locked.
func TestLoadPanicLeavesNoGoroutine(t *testing.T) {
	s := New()
	before := runtime.NumGoroutine()
	func() {
		defer func() { recover() }()
		s.Load(10, func(yield func(string, driver.Entry) bool) {
			yield("a", stringEntry(t, "v"))
			panic("broken iterator")
		})
	}()
	for i := 0; i < 100 && runtime.NumGoroutine() > before; i++ {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after a panicking Load, %d before", n, before)
	}
	// The store is usable, and empty.
	if _, ok, _ := s.Get(context.Background(), "a"); ok {
		t.Fatal("a panicking Load left an entry")
	}
	if err := s.ApplyOne(context.Background(), driver.Write{Key: "b", Entry: stringEntry(t, "v")}); err != nil {
		t.Fatal(err)
	}
}

// TestEfaceLayout checks what splitAny and joinAny take for granted: that
// an interface value is a type word then a data word, the data word
// pointing at the value, and that the two words join back into the same
// interface value.
func TestEfaceLayout(t *testing.T) {
	if unsafe.Sizeof(any(nil)) != unsafe.Sizeof(eface{}) {
		t.Fatalf("an interface value is %d bytes, eface %d", unsafe.Sizeof(any(nil)), unsafe.Sizeof(eface{}))
	}
	s := strings.Repeat("layout", 3)
	typ, data := splitAny(s)
	if got := *(*string)(data); got != s {
		t.Fatalf("the data word points at %q, want %q", got, s)
	}
	if typ == nil {
		t.Fatal("the type word of a string is nil")
	}
	for _, x := range []any{s, int64(-7), true, 2.5, []byte("b"), time.Unix(1, 2).UTC(), nil} {
		if got := joinAny(splitAny(x)); !reflect.DeepEqual(got, x) {
			t.Errorf("joinAny(splitAny(%#v)) = %#v", x, got)
		}
	}
}

// TestKeysLiveInTheirItems checks that a key of up to 64 bytes, the empty
// key included, is copied into its item's own allocation, right after the
// item's fields, in the smallest of the arrays that holds it; that longer
// keys are kept as they are; that every key reads back unchanged whatever
// its bytes; and that newItem, which the store calls, does the same.
func TestKeysLiveInTheirItems(t *testing.T) {
	inItem := func(it *item) bool {
		return uintptr(unsafe.Pointer(unsafe.StringData(it.key)))-uintptr(unsafe.Pointer(it)) == unsafe.Sizeof(item{})
	}
	for n := 0; n <= 80; n++ {
		key := strings.Repeat("k\x00\xff", n)[:n]
		key = strings.Clone(key)
		it := keyedItem(key)
		if it.key != key {
			t.Fatalf("%d-byte key reads back as %q, want %q", n, it.key, key)
		}
		if want := n <= 64; inItem(it) != want {
			t.Errorf("%d-byte key: in the item = %v, want %v", n, inItem(it), want)
		}
		if n > 64 && unsafe.StringData(it.key) != unsafe.StringData(key) {
			t.Errorf("%d-byte key: copied, want the caller's string kept", n)
		}
		// One allocation, of exactly the item and the smallest of the 16,
		// 32, 48 and 64-byte arrays that holds the key: each such sum is one
		// of the allocator's size classes, so a larger item (or a second
		// allocation) shows.
		if n <= 64 {
			want := uint64(unsafe.Sizeof(item{})) + uint64(max(16, (n+15)/16*16))
			if got := bytesPerItem(key); got != want {
				t.Errorf("%d-byte key: %d bytes per item, want %d", n, got, want)
			}
		}
	}
	e := stringEntry(t, "v")
	it := newItem(strings.Clone("song:1"), e)
	if got, _ := it.loadLocked(); got.Value != e.Value || it.key != "song:1" || !inItem(it) {
		t.Fatalf("newItem: key %q (in the item: %v), entry %+v", it.key, inItem(it), got)
	}
}

// bytesPerItem is how many bytes the heap gives keyedItem(key): the least
// of three measures, since anything else the process allocates meanwhile
// can only add.
func bytesPerItem(key string) uint64 {
	const n = 4000
	keep := make([]*item, n)
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range keep {
			keep[i] = keyedItem(key)
		}
		runtime.ReadMemStats(&after)
		least = min(least, (after.TotalAlloc-before.TotalAlloc)/n)
	}
	runtime.KeepAlive(keep)
	return least
}

// TestFindPastACollision: a search that meets another key with the same
// hash before its own goes on to its own. (The readers' search compares
// hashes first and keys only on a match: see table.candidate.) Two 64-bit
// hashes cannot be made to collide on purpose, so the table is built by
// hand with an item that claims the other key's hash.
func TestFindPastACollision(t *testing.T) {
	ctx := context.Background()
	const key = "user:00000001"
	s, sh, mine := storeWith(t, key, "mine")
	h := s.hash(key)
	var nt *table
	// The other keys: one of the same length, and one whose first and last
	// eight bytes are key's (a comparison of the two words alone, without
	// the lengths, would take it for key).
	for _, other := range []string{"user:00000002", "user:000000001"} {
		nt = newTable(2)
		nt.insert(h, newItem(other, stringEntry(t, "other's")))
		nt.insert(h, mine)
		sh.mu.Lock()
		sh.tab.Store(nt)
		sh.mu.Unlock()
		if nt.candidate(h).key != other {
			t.Fatal("the test's table does not put the other key first")
		}
		e, ok, err := s.Get(ctx, key)
		if x, _ := e.Value.Plain(); !ok || err != nil || x != "mine" {
			t.Errorf("past %q: Get(%q) = %v, %v, %v; want mine", other, key, x, ok, err)
		}
	}
	other := nt.candidate(h).key
	// A missing key whose search meets the other key's item first.
	absent := "user:00000003"
	nt2 := newTable(2)
	nt2.insert(s.hash(absent), nt.candidate(h))
	sh2 := &s.shards[shardOf(s.hash(absent))]
	sh2.mu.Lock()
	old := sh2.tab.Load()
	sh2.tab.Store(nt2)
	sh2.mu.Unlock()
	if _, ok, _ := s.Get(ctx, absent); ok {
		t.Errorf("Get(%q), which is not there, found the item of %q", absent, other)
	}
	sh2.mu.Lock()
	sh2.tab.Store(old)
	sh2.mu.Unlock()
}

// TestGetEveryKeyLength: a Get, which hashes the commonest keys inline,
// finds keys of every length that the writers stored with Store.hash.
func TestGetEveryKeyLength(t *testing.T) {
	ctx := context.Background()
	s := New()
	var keys []string
	for n := 0; n <= 80; n++ {
		for _, c := range []string{"k", "\x00", "\xff"} {
			keys = append(keys, strings.Repeat(c, n))
		}
	}
	keys = append(keys, strings.Repeat("k", 200))
	for i, k := range keys {
		s.ApplyOne(ctx, driver.Write{Key: k, Entry: stringEntry(t, fmt.Sprint(i))})
	}
	for i, k := range keys {
		e, ok, _ := s.Get(ctx, k)
		if x, _ := e.Value.Plain(); !ok || x != fmt.Sprint(i) && k != "" {
			t.Errorf("Get of a key of %d bytes (%q...) = %v, %v", len(k), k[:min(len(k), 4)], x, ok)
		}
	}
}

// storeWith returns a new store holding the string value under key, the
// key's shard and its item.
func storeWith(t *testing.T, key, value string) (*Store, *shard, *item) {
	s := New()
	s.ApplyOne(context.Background(), driver.Write{Key: key, Entry: stringEntry(t, value)})
	h := s.hash(key)
	sh := &s.shards[shardOf(h)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return s, sh, sh.tab.Load().find(h, key)
}

// TestGetWaitsForAWriter checks that a Get of a key whose shard a writer
// is changing (a batch, which makes the shard's seq odd) or whose item a
// writer is overwriting (which makes the item's ver odd) answers only when
// the writer is done, with what it wrote, and not from the words it found
// first. The test plays the writer: it holds the shard's mutex, marks the
// shard or the item busy, and leaves the old value in place until it is
// done. A Get that answered while the writer was busy would return the old
// value.
func TestGetWaitsForAWriter(t *testing.T) {
	ctx := context.Background()
	for _, busy := range []string{"shard", "item"} {
		t.Run(busy, func(t *testing.T) {
			const key = "user:00000001"
			s, sh, it := storeWith(t, key, "old")
			sh.mu.Lock()
			v := atomic.LoadUint64(&it.ver)
			if busy == "shard" {
				sh.seq.Add(1)
			} else {
				atomic.StoreUint64(&it.ver, v|verBusy)
			}
			got := make(chan any, 1)
			go func() {
				e, _, _ := s.Get(ctx, key)
				x, _ := e.Value.Plain()
				got <- x
			}()
			// A Get that does not wait answers at once; give it the time to.
			select {
			case x := <-got:
				t.Fatalf("Get answered %v while the writer was busy", x)
			case <-time.After(20 * time.Millisecond):
			}
			if busy == "shard" {
				it.store(stringEntry(t, "new"))
				sh.seq.Add(1)
			} else {
				atomic.StoreUint64(&it.ver, v)
				it.store(stringEntry(t, "new"))
			}
			sh.mu.Unlock()
			if x := <-got; x != "new" {
				t.Errorf("Get = %v after the writer was done; want new", x)
			}
		})
	}
}

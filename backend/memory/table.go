package memory

import (
	"math/bits"
	"sync/atomic"

	"github.com/foxstore/foxstore/internal/words"
)

// tomb marks a slot whose item was removed, so that a search goes on past it.
var tomb = new(item)

// table is an open-addressing hash table with linear probing. Readers search
// it with atomic loads and no lock; its writer (the holder of the shard's
// mutex) changes one slot at a time with atomic stores. At most half of its
// slots are ever in use (items or tombstones), so a search always ends at an
// empty slot, and soon: measured on 100,000 keys, a limit of three quarters
// saved memory but let probe runs reach 60 to 90 slots, against 15 to 25.
// A table is rebuilt (grown, cleaned of tombstones, or shrunk) to be at most
// three eighths full, so that at least an eighth of its slots can fill
// before the next rebuild.
type table struct {
	mask  uint64
	slots []slot
	live  int // slots holding an item; only the writer reads or writes it
	used  int // live plus tombstones; only the writer reads or writes it
}

// slot holds an item and its key's hash, which spares a search the keys
// that do not match. Writers store the hash before the item.
type slot struct {
	h atomic.Uint64
	p atomic.Pointer[item]
}

const minSlots = 8

// newTable returns a table that n items fill to at most three eighths.
func newTable(n int) *table {
	size := uint64(minSlots)
	if want := (8*uint64(n) + 2) / 3; want > size {
		size = 1 << bits.Len64(want-1)
	}
	return &table{mask: size - 1, slots: make([]slot, size)}
}

// limit is how many slots may be in use.
func (t *table) limit() int { return len(t.slots) / 2 }

// find returns the item under key, whose hash is h, or nil.
func (t *table) find(h uint64, key string) *item {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		sl := &t.slots[i]
		p := sl.p.Load()
		if p == nil {
			return nil
		}
		if p != tomb && sl.h.Load() == h && sameKey(p.key, key) {
			return p
		}
	}
}

// candidate returns the first item, searching as find does, whose slot
// holds the hash h, or nil. It is find without the comparison of keys, small
// enough for the compiler to inline: the caller compares the keys, and
// calls find only when they differ, which two keys with one 64-bit hash
// make rare.
func (t *table) candidate(h uint64) *item {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		sl := &t.slots[i]
		p := sl.p.Load()
		if p == nil {
			return nil
		}
		// The hash first: a tombstone keeps its item's, but mostly a slot
		// whose hash matches holds the key.
		if sl.h.Load() == h && p != tomb {
			return p
		}
	}
}

// sameKey is a == b. For strings of 8 to 16 bytes it compares two words
// (which overlap below 16 bytes) inline, where == calls the runtime's
// memequal: 25 instructions fewer per search for a 13-byte key.
func sameKey(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	if !words.Short(a) {
		return a == b
	}
	return words.Equal(a, b)
}

// lookup finds key (hash h) for the writer: at slot i with its item old, or,
// when old is nil, not there; then i is the empty slot the search ended at
// and free the first tombstone passed on the way (-1 if none), where the
// key may go.
func (t *table) lookup(h uint64, key string) (i uint64, old *item, free int) {
	free = -1
	for i = h & t.mask; ; i = (i + 1) & t.mask {
		sl := &t.slots[i]
		p := sl.p.Load()
		if p == nil {
			return i, nil, free
		}
		if p == tomb {
			if free < 0 {
				free = int(i)
			}
			continue
		}
		if sl.h.Load() == h && sameKey(p.key, key) {
			return i, p, free
		}
	}
}

// add stores it, whose key (hash h) lookup did not find, in the tombstone
// free if there was one, else in the empty slot i. The caller is the writer
// and has reserved a slot.
func (t *table) add(i uint64, free int, h uint64, it *item) {
	if free >= 0 {
		i = uint64(free)
	} else {
		t.used++
	}
	sl := &t.slots[i]
	sl.h.Store(h)
	sl.p.Store(it)
	t.live++
}

// remove leaves a tombstone in slot i, where lookup found an item.
func (t *table) remove(i uint64) {
	t.slots[i].p.Store(tomb)
	t.live--
}

// insert stores it, whose key (hash h) t does not hold, in a table that no
// reader sees yet and that has room.
func (t *table) insert(h uint64, it *item) {
	i := h & t.mask
	for t.slots[i].p.Load() != nil {
		i = (i + 1) & t.mask
	}
	t.slots[i].h.Store(h)
	t.slots[i].p.Store(it)
	t.live++
	t.used++
}

// rebuilt returns a copy of t, without tombstones, with room for n items.
func (t *table) rebuilt(n int) *table {
	nt := newTable(n)
	for i := range t.slots {
		if p := t.slots[i].p.Load(); p != nil && p != tomb {
			nt.insert(t.slots[i].h.Load(), p)
		}
	}
	return nt
}

// reserve makes room in t, the shard's table, for k more items, replacing
// the table by a larger (or cleaner) copy if need be, and returns the table
// to write to. The caller holds sh.mu. Readers go on reading the old table,
// which holds the same items, while the copy is made.
func (sh *shard) reserve(t *table, k int) *table {
	if t.used+k <= t.limit() {
		return t
	}
	nt := t.rebuilt(t.live + k)
	sh.tab.Store(nt)
	return nt
}

// shrink replaces t, the shard's table, by a smaller copy when less than an
// eighth of its slots hold items, so that memory follows the data down; the
// copy is at least three sixteenths full, so it is not shrunk again at once.
// The caller holds sh.mu.
func (sh *shard) shrink(t *table) {
	if len(t.slots) > minSlots && t.live*8 < len(t.slots) {
		sh.tab.Store(t.rebuilt(t.live))
	}
}

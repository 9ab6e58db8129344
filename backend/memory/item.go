package memory

import (
	"sync/atomic"
	"unsafe"

	"github.com/foxstore/foxstore/driver"
)

// item is one key and its entry. The key never changes; the entry is
// overwritten in place by the shard's writer and read without a lock, as a
// seqlock: the writer makes ver odd, stores the entry's words and makes ver
// even again, and a reader that saw ver change (or odd) reads again.
//
// Overwriting in place spares every overwrite an allocation. The first version
// stored a new, immutable item per write; the allocation and the work it
// made for the garbage collector were a third of an overwrite's time
// (BenchmarkSetTTL/memory-backend in bench/: about 220 ns, against 150 with
// this change, in one A/B run).
//
// The entry is kept in three words, each stored and loaded atomically (so
// the race detector sees every access as synchronised): the two words of
// the interface that holds the Go value (its type and data pointers) and the
// deadline. The value's kind travels in ver, which has room for it:
//
//	ver = writes<<9 | kind<<1 | busy
//
// writes counts the writes to the item, so that (item, writes) is a version
// of the key: a transaction remembers it for every key it reads.
type item struct {
	key  string
	ver  uint64         // atomic
	typ  unsafe.Pointer // atomic; the interface's type word
	data unsafe.Pointer // atomic; the interface's data word
	exp  int64          // atomic; Entry.Expires
}

// eface is the layout of an interface value with no methods, as the Go
// runtime defines it (runtime.eface): a pointer to the dynamic type and a
// pointer to the data. Splitting an `any` into these words, and joining
// them again, is one of the two uses of unsafe in this package; the other
// is keyedItem's copy of the key into the item's allocation.
type eface struct {
	typ, data unsafe.Pointer
}

func splitAny(x any) (typ, data unsafe.Pointer) {
	e := (*eface)(unsafe.Pointer(&x))
	return e.typ, e.data
}

func joinAny(typ, data unsafe.Pointer) (x any) {
	e := (*eface)(unsafe.Pointer(&x))
	e.typ, e.data = typ, data
	return x
}

const (
	verBusy  = 1
	kindMask = 0xff << 1 // any driver.Kind, a uint8
	verWrite = 1 << 9    // one write in ver's count
)

// The 64-bit words must be 8-byte aligned for their atomic operations, on
// 32-bit platforms too (where only the first word of an allocation is sure
// to be): these arrays have length 1 only when they are.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(item{}.ver)%8]
	_ = [1]struct{}{}[unsafe.Offsetof(item{}.exp)%8]
)

// newItem returns an item holding e, for a table that no reader sees it in
// yet: publishing it (an atomic store of the slot) orders these plain stores
// before any reader's loads.
func newItem(key string, e driver.Entry) *item {
	it := keyedItem(key)
	k, x := e.Value.Parts()
	it.ver = uint64(k) << 1
	it.typ, it.data = splitAny(x)
	it.exp = e.Expires
	return it
}

// keyedItem returns a new item for key. A key of up to 64 bytes is copied
// into the item's own allocation, right after its other fields, where a key
// of its own would be a third dependent cache miss for every search that
// finds the slot: in a table larger than the processor's cache, these
// misses are most of a Get's time. On a 64-bit platform a key of up to 16
// bytes makes a 64-byte item, one cache line; longer ones make items of 80
// to 112 bytes, which may span two or three. The key's own string stays
// the index's, so a key up to 64 bytes long is held twice.
func keyedItem(key string) *item {
	switch n := len(key); {
	case n <= 16:
		return withKey[[16]byte](key)
	case n <= 32:
		return withKey[[32]byte](key)
	case n <= 48:
		return withKey[[48]byte](key)
	case n <= 64:
		return withKey[[64]byte](key)
	}
	return &item{key: key}
}

// withKey returns an item whose key is a copy of key in an array of type B
// allocated with it; key must fit in B.
func withKey[B [16]byte | [32]byte | [48]byte | [64]byte](key string) *item {
	k := new(struct {
		item
		buf B
	})
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&k.buf)), unsafe.Sizeof(k.buf))
	k.key = unsafe.String(&buf[0], copy(buf, key))
	return &k.item
}

// store overwrites the item's entry. The caller holds the shard's mutex, so
// it is the item's only writer.
func (it *item) store(e driver.Entry) {
	v := atomic.LoadUint64(&it.ver)
	atomic.StoreUint64(&it.ver, v|verBusy)
	k, x := e.Value.Parts()
	typ, data := splitAny(x)
	// Stores that would not change a word are skipped: an overwrite mostly
	// keeps the value's type (and often the deadline).
	if atomic.LoadPointer(&it.typ) != typ {
		atomic.StorePointer(&it.typ, typ)
	}
	atomic.StorePointer(&it.data, data)
	if atomic.LoadInt64(&it.exp) != e.Expires {
		atomic.StoreInt64(&it.exp, e.Expires)
	}
	atomic.StoreUint64(&it.ver, v&^(kindMask|verBusy)+verWrite|uint64(k)<<1)
}

// loadWords reads the item's entry under its seqlock: the value's kind and
// Go value, the deadline, the count of writes, and ok, false when a writer
// changed the item meanwhile. Then the words may mix two writes and must be
// dropped, and the caller should try again. (Words from two writes may also
// fail JoinValue's check that the value's Go type is its kind's; words from
// one write never do.) It is small enough for the compiler to inline into
// a search, which joins the value itself.
func (it *item) loadWords() (k driver.Kind, x any, exp int64, writes uint64, ok bool) {
	v := atomic.LoadUint64(&it.ver)
	x = joinAny(atomic.LoadPointer(&it.typ), atomic.LoadPointer(&it.data))
	exp = atomic.LoadInt64(&it.exp)
	return driver.Kind(v & kindMask >> 1), x, exp, v / verWrite, atomic.LoadUint64(&it.ver) == v&^verBusy
}

// loadLocked returns the item's entry and its count of writes, for the
// holder of the shard's mutex, which no writer can get in the way of.
func (it *item) loadLocked() (driver.Entry, uint64) {
	k, x, exp, n, _ := it.loadWords()
	v, _ := driver.JoinValue(k, x)
	return driver.Entry{Value: v, Expires: exp}, n
}

// expires returns the item's deadline, for its writer.
func (it *item) expires() int64 { return atomic.LoadInt64(&it.exp) }

package memory

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"unsafe"

	"github.com/foxstore/foxstore/internal/words"
)

// hasher is a Store's hash of keys: its top bits pick the shard, its low
// bits the slot, and all 64 are kept in the slot.
//
// A key of up to 16 bytes, which is nearly every key an application uses,
// is hashed here: its bytes as two words (which overlap for keys shorter
// than 16 bytes), each mixed with a secret key and multiplied, the 128-bit
// product folded to 64 bits, then mixed again with the length. For a key of
// 8 to 16 bytes that is about 20 instructions on amd64, inlined into a Get.
// Longer keys go to maphash. It had hashed every key, in about 55
// instructions for a 13-byte one (a generic function, a call through its
// hasher table and the runtime's AES hash), a tenth of a whole Get through
// the front, counted under callgrind. A Get's time is mostly cache misses,
// but how many of them the processor can overlap seems to depend on how
// many instructions each Get takes (BENCHMARKS.md, session 6).
//
// The secrets are random per Store, as maphash's seed is, so that no one
// who chooses keys can choose ones that collide without knowing them.
type hasher struct {
	seed           maphash.Seed
	k0, k1, k2, k3 uint64
}

func newHasher() hasher {
	// math/rand/v2's top-level functions draw from a generator seeded by
	// the operating system, for each process.
	return hasher{seed: maphash.MakeSeed(), k0: rand.Uint64(), k1: rand.Uint64(), k2: rand.Uint64(), k3: rand.Uint64()}
}

// fold multiplies x by y and folds the 128-bit product to 64 bits, so that
// the result's low bits depend on the high bits of both as well as the low
// ones. (It is 0 whenever x or y is: sum's x and y are mixed with secrets,
// so no one can choose keys that make them 0.)
func fold(x, y uint64) uint64 {
	hi, lo := bits.Mul64(x, y)
	return hi ^ lo
}

// sum returns key's hash.
func (h *hasher) sum(key string) uint64 {
	// A key of 8 to 16 bytes, the commonest length, is hashed as mix of its
	// two words; Store.Get computes it so too, inline.
	if words.Short(key) {
		x, y := words.Pair(key)
		return h.mix(x, y, len(key))
	}
	return h.sumOther(key)
}

// mix is the hash of a key of n bytes whose bytes are in x and y.
func (h *hasher) mix(x, y uint64, n int) uint64 {
	return fold(fold(x^h.k0, y^h.k1)^h.k2, uint64(n)^h.k3)
}

// sumOther is sum for keys shorter than 8 bytes or longer than 16.
func (h *hasher) sumOther(key string) uint64 {
	n := len(key)
	if n > 16 {
		return maphash.String(h.seed, key)
	}
	// A read-only view of key's bytes, for loads of whole words.
	b := unsafe.Slice(unsafe.StringData(key), n)
	var x, y uint64
	switch {
	case n >= 4:
		x, y = uint64(binary.LittleEndian.Uint32(b)), uint64(binary.LittleEndian.Uint32(b[n-4:]))
	case n > 0:
		// Bytes 0, n/2 and n-1 are all of a key of 1 to 3 bytes.
		x = uint64(b[0])<<16 | uint64(b[n/2])<<8 | uint64(b[n-1])
	}
	return h.mix(x, y, n)
}

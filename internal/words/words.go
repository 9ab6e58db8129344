// Package words reads a short string as two machine words, for the code
// that every Get runs (the front's key check, the memory backend's hash and
// key comparison), where each instruction shows in the time of a Get that
// misses the processor's caches (BENCHMARKS.md, sessions 6 and 7).
package words

import (
	"encoding/binary"
	"unsafe"
)

// Short reports whether s has 8 to 16 bytes, the lengths Pair and Equal
// take.
func Short(s string) bool { return uint(len(s)-8) <= 8 }

// portable is Pair for every platform: its loads are bounds-checked, which
// costs a few instructions per call. Its words are in the platform's byte
// order, as Pair's are on amd64 and arm64.
func portable(s string) (x, y uint64) {
	n := len(s)
	b := unsafe.Slice(unsafe.StringData(s), n)
	return binary.NativeEndian.Uint64(b), binary.NativeEndian.Uint64(b[n-8:])
}

// portableEqual is Equal for every platform.
func portableEqual(a, b string) bool {
	a0, a1 := portable(a)
	b0, b1 := portable(b)
	return a0 == b0 && a1 == b1
}

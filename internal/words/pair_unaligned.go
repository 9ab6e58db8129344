//go:build amd64 || arm64

package words

import "unsafe"

// Pair returns the first 8 bytes of s and its last 8 (which overlap when s
// is shorter than 16 bytes), as two words in the platform's byte order. s
// must have 8 to 16 bytes: Pair does not check, and reads outside s when it
// has fewer than 8. On amd64 and arm64, which load a word from any address,
// it is two plain loads; elsewhere it is the bounds-checked portable.
func Pair(s string) (x, y uint64) {
	p := unsafe.Pointer(unsafe.StringData(s))
	return *(*uint64)(p), *(*uint64)(unsafe.Add(p, len(s)-8))
}

// Equal reports whether a and b, which must have one length of 8 to 16
// bytes, are equal.
func Equal(a, b string) bool {
	p, q := unsafe.Pointer(unsafe.StringData(a)), unsafe.Pointer(unsafe.StringData(b))
	n := len(a) - 8
	return *(*uint64)(p) == *(*uint64)(q) && *(*uint64)(unsafe.Add(p, n)) == *(*uint64)(unsafe.Add(q, n))
}

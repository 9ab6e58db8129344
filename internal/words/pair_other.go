//go:build !amd64 && !arm64

package words

// Pair returns the first 8 bytes of s and its last 8 (which overlap when s
// is shorter than 16 bytes), as two words in the platform's byte order. s
// must have 8 to 16 bytes.
func Pair(s string) (x, y uint64) { return portable(s) }

// Equal reports whether a and b, which must have one length of 8 to 16
// bytes, are equal.
func Equal(a, b string) bool { return portableEqual(a, b) }

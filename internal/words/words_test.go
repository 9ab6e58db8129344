package words

import (
	"encoding/binary"
	"strings"
	"testing"
)

// TestPair checks Pair against the bytes it should load, for every length
// it accepts and for strings that are slices of a longer one (so that
// neither end is aligned), on whichever platform the test runs.
func TestPair(t *testing.T) {
	all := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz", 2)
	for n := 8; n <= 16; n++ {
		for at := 0; at+n <= len(all); at++ {
			s := all[at : at+n]
			var head, tail [8]byte
			copy(head[:], s)
			copy(tail[:], s[n-8:])
			// Pair's words are in the platform's byte order; compare them
			// as the bytes they hold, whatever the order.
			x, y := Pair(s)
			var gx, gy [8]byte
			binary.NativeEndian.PutUint64(gx[:], x)
			binary.NativeEndian.PutUint64(gy[:], y)
			if gx != head || gy != tail {
				t.Fatalf("Pair(%q) holds %q and %q; want %q and %q", s, gx, gy, head, tail)
			}
			if px, py := portable(s); px != x || py != y {
				t.Fatalf("portable(%q) = %#x, %#x", s, px, py)
			}
		}
	}
}

// TestEqual checks Equal against == for pairs of strings of one length
// that differ in one byte, anywhere, or not at all.
func TestEqual(t *testing.T) {
	for n := 8; n <= 16; n++ {
		a := strings.Repeat("k", n+3)[2 : 2+n] // not at the start of its bytes
		if !Equal(a, strings.Repeat("k", n)) || !portableEqual(a, strings.Repeat("k", n)) {
			t.Fatalf("Equal of two %d-byte strings of k: false", n)
		}
		for i := 0; i < n; i++ {
			b := []byte(a)
			b[i] ^= 0x20
			if Equal(a, string(b)) || portableEqual(a, string(b)) {
				t.Fatalf("Equal(%q, %q) = true", a, b)
			}
		}
	}
}

func TestShort(t *testing.T) {
	for n := 0; n <= 40; n++ {
		if got, want := Short(strings.Repeat("k", n)), n >= 8 && n <= 16; got != want {
			t.Errorf("Short of %d bytes = %v, want %v", n, got, want)
		}
	}
}

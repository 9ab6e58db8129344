package foxstore

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// plainASCII checks eight bytes at a time; it must agree with the obvious
// byte loop on every length and at every position of a bad byte.
func TestPlainASCII(t *testing.T) {
	slow := func(k string) bool {
		for i := 0; i < len(k); i++ {
			if k[i] == 0 || k[i] >= utf8.RuneSelf {
				return false
			}
		}
		return true
	}
	for n := 0; n <= 40; n++ {
		base := strings.Repeat("a", n)
		if !plainASCII(base) {
			t.Fatalf("plainASCII(%q) = false", base)
		}
		for i := 0; i < n; i++ {
			for _, c := range []byte{0, 1, 0x7f, 0x80, 0xc3, 0xff} {
				b := []byte(base)
				b[i] = c
				// A bad byte next to a byte that borrows in the subtraction.
				for _, pre := range []byte{'a', 0x01, 0x00} {
					if i > 0 {
						b[i-1] = pre
					}
					k := string(b)
					if got, want := plainASCII(k), slow(k); got != want {
						t.Fatalf("plainASCII(%q) = %v, want %v", k, got, want)
					}
				}
			}
		}
	}
}

func FuzzPlainASCII(f *testing.F) {
	f.Add("user:00000001")
	f.Add("song:\x00abcdefgh")
	f.Add("é1234567890")
	f.Fuzz(func(t *testing.T, k string) {
		want := utf8.ValidString(k) && !strings.ContainsRune(k, 0) && !strings.ContainsFunc(k, func(r rune) bool { return r >= utf8.RuneSelf })
		if got := plainASCII(k); got != want {
			t.Fatalf("plainASCII(%q) = %v, want %v", k, got, want)
		}
	})
}

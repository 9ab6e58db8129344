package memory

import (
	"fmt"
	"strings"
	"testing"
)

// TestHashUsesEveryByte: keys of 0 to 40 bytes that differ in one byte, or
// only in length, hash differently. A hash that skipped a byte (say, one
// the overlapping words miss) or the length would fail here.
func TestHashUsesEveryByte(t *testing.T) {
	h := newHasher()
	for n := 0; n <= 40; n++ {
		base := strings.Repeat("k", n)
		seen := map[uint64]string{h.sum(base): base}
		for i := 0; i < n; i++ {
			for _, c := range []byte{0, 'j', 0x80, 0xff} {
				b := []byte(base)
				b[i] = c
				k := string(b)
				if prev, dup := seen[h.sum(k)]; dup {
					t.Fatalf("len %d: %q and %q hash alike", n, prev, k)
				}
				seen[h.sum(k)] = k
			}
		}
		if n > 0 && h.sum(base) == h.sum(base[:n-1]) {
			t.Fatalf("%q and %q hash alike", base, base[:n-1])
		}
	}
}

// TestHashSpreads: 100,000 keys of the form applications use spread evenly
// over the shards (the top bits) and over the slots of a table (the low
// bits), and two stores hash the same key differently.
func TestHashSpreads(t *testing.T) {
	h := newHasher()
	const n = 100_000
	var shards [nShards]int
	const slotBits = 17
	slots := make([]int, 1<<slotBits)
	for i := 0; i < n; i++ {
		x := h.sum(fmt.Sprintf("user:%08d", i))
		shards[shardOf(x)]++
		slots[x&(1<<slotBits-1)]++
	}
	mean := n / nShards
	for i, c := range shards {
		if c < mean*3/4 || c > mean*5/4 {
			t.Errorf("shard %d holds %d keys; the mean is %d", i, c, mean)
		}
	}
	// With 100,000 keys in 131,072 buckets, a random hash fills 53.4% of
	// them (1 - e^-0.763), give or take 0.2%, and puts at most 8 or so in
	// any one.
	filled, most := 0, 0
	for _, c := range slots {
		if c > 0 {
			filled++
		}
		most = max(most, c)
	}
	if filled < len(slots)*52/100 || most > 10 {
		t.Errorf("low bits: %d of %d buckets filled, at most %d keys in one", filled, len(slots), most)
	}
	if h2 := newHasher(); h2.sum("user:1") == h.sum("user:1") {
		t.Error("two hashers agree on a key: the secrets are not random")
	}
}

// TestSameKey: sameKey agrees with == on strings of 0 to 24 bytes that are
// equal, differ in one byte, or differ in length.
func TestSameKey(t *testing.T) {
	for n := 0; n <= 24; n++ {
		a := strings.Repeat("a", n)
		if !sameKey(a, strings.Clone(a)) {
			t.Fatalf("sameKey(%q, copy) = false", a)
		}
		if sameKey(a, a+"a") || sameKey(a+"a", a) {
			t.Fatalf("sameKey of %d and %d bytes = true", n, n+1)
		}
		for i := 0; i < n; i++ {
			b := []byte(a)
			b[i] = 'b'
			if sameKey(a, string(b)) {
				t.Fatalf("sameKey(%q, %q) = true", a, b)
			}
		}
	}
}

package foxstore

import (
	"testing"
	"time"
)

// clockSlack is how far wallNanos may stray from time.Now without a jump of
// the wall clock: the two clocks' rates may differ by NTP's slew (at most
// 500 ppm, half a microsecond per millisecond).
const clockSlack = 20 * time.Microsecond

// TestWallNanosFollowsTimeNow: between two readings of time.Now, wallNanos
// reads a time between them, through many re-anchorings. One reading in a
// hundred may stray: renewAnchor keeps no anchor whose wall and monotonic
// readings were taken apart, but misses the case where both its readings
// were delayed alike.
func TestWallNanosFollowsTimeNow(t *testing.T) {
	bad, n := 0, 0
	end := time.Now().Add(30 * time.Millisecond)
	for ; time.Now().Before(end); n++ {
		before := time.Now().UnixNano()
		w := wallNanos()
		after := time.Now().UnixNano()
		if w < before-int64(clockSlack) || w > after+int64(clockSlack) {
			bad++
			if bad <= 3 {
				t.Logf("wallNanos = %d, outside [%d, %d] by more than %v", w, before, after, clockSlack)
			}
		}
	}
	if n < 1000 {
		t.Fatalf("only %d readings in 30 ms", n)
	}
	if bad > n/100 {
		t.Errorf("%d of %d readings of wallNanos strayed from time.Now by more than %v", bad, n, clockSlack)
	}
}

// TestWallNanosSeesAJump: after the wall clock jumped (here: an anchor an
// hour behind it, as a suspend or a step would leave), wallNanos catches up
// within anchorAge of monotonic time.
func TestWallNanosSeesAJump(t *testing.T) {
	defer anchor.Store(nil)
	now := time.Now()
	anchor.Store(&clockAnchor{at: now, wall: now.UnixNano() - int64(time.Hour)})
	w := wallNanos()
	// Unless this goroutine was held up past anchorAge, wallNanos went by
	// the anchor, an hour behind, which shows the anchor is in use.
	if time.Since(now) < anchorAge && w > time.Now().UnixNano()-int64(time.Hour)+int64(anchorAge) {
		t.Fatalf("wallNanos = %d right after the anchor: it should still go by the anchor, an hour behind", w)
	}
	// Two milliseconds, the most a caller should wait to see a jump (not
	// anchorAge itself, which a broken change could make an hour).
	const seen = 2 * time.Millisecond
	time.Sleep(seen)
	before := time.Now().UnixNano()
	w = wallNanos()
	if d := time.Duration(before - w); d > clockSlack {
		t.Fatalf("wallNanos is %v behind time.Now %v after a jump", d, seen)
	}
}

// TestTruePair: renewAnchor keeps a pair of readings only if the wall and
// monotonic clocks moved alike between them.
func TestTruePair(t *testing.T) {
	for _, c := range []struct {
		wall, mono time.Duration
		want       bool
	}{
		{40, 40, true},
		{40, 41, true},
		{3 * time.Microsecond, 0, true},
		// The second reading's thread was held 2 ms between its wall and
		// monotonic reads: its wall time is 2 ms older than its mono time.
		{40, 2*time.Millisecond + 40, false},
		// The first reading's was.
		{2*time.Millisecond + 40, 40, false},
		{-time.Hour, 40, false}, // the wall clock was stepped back between them
	} {
		if got := truePair(c.wall, c.mono); got != c.want {
			t.Errorf("truePair(%v, %v) = %v, want %v", c.wall, c.mono, got, c.want)
		}
	}
}

// BenchmarkClock compares wallNanos with the time.Now it stands for.
func BenchmarkClock(b *testing.B) {
	var sink int64
	b.Run("time.Now", func(b *testing.B) {
		for b.Loop() {
			sink += time.Now().UnixNano()
		}
	})
	b.Run("wallNanos", func(b *testing.B) {
		for b.Loop() {
			sink += wallNanos()
		}
	})
	_ = sink
}

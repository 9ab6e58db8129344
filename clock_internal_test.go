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
// hundred may stray: time.Now reads its two clocks one after the other, and
// a thread descheduled between the two gives an anchor whose wall reading
// is that much older than its monotonic one (for one anchorAge).
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
	now := time.Now()
	anchor.Store(&clockAnchor{at: now, wall: now.UnixNano() - int64(time.Hour)})
	if w := wallNanos(); w > time.Now().UnixNano()-int64(time.Hour)+int64(anchorAge) {
		t.Fatalf("wallNanos = %d right after the anchor: it should still go by the anchor, an hour behind", w)
	}
	// Two milliseconds, the most a caller should wait to see a jump (not
	// anchorAge itself, which a broken change could make an hour).
	const seen = 2 * time.Millisecond
	time.Sleep(seen)
	before := time.Now().UnixNano()
	w := wallNanos()
	if d := time.Duration(before - w); d > clockSlack {
		t.Fatalf("wallNanos is %v behind time.Now %v after a jump", d, seen)
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

package foxstore

import (
	"sync/atomic"
	"time"
)

// wallNanos is the wall clock in Unix nanoseconds, for TTL arithmetic.
//
// time.Now reads two clocks, the wall clock and the monotonic one: 36 ns on
// the machine BENCHMARKS.md was measured on, a fifth of a Set with a TTL
// (BenchmarkClock). wallNanos renews its anchor (two calls of time.Now)
// about once per millisecond (anchorAge) of monotonic time, and in between
// adds the monotonic time elapsed since to the anchor's wall reading;
// time.Since reads the monotonic clock alone (21 ns). The
// two clocks run at the same rate (NTP's slewing adjusts both), so the
// answers agree with time.Now's to within microseconds, given an anchor
// whose two readings were taken together (see renewAnchor).
//
// What the monotonic clock does not see is a jump of the wall clock: a step
// (by NTP or by hand) or a suspend, during which the monotonic clock stops.
// wallNanos sees the jump at its next anchor, after at most anchorAge of the
// process's monotonic time: as if the jump had happened up to a millisecond
// later. Deadlines are whole milliseconds, so that is their own resolution.
//
// Another way to read the wall clock alone, syscall.Gettimeofday (one vDSO
// call, 30 ns), was tried and dropped: Go's syscall package runs the vDSO
// on the goroutine's own small stack, which the runtime itself stopped
// doing for its clock because some kernels' vDSO needs more stack than
// that (golang.org/issue/20427).
func wallNanos() int64 {
	if a := anchor.Load(); a != nil {
		if d := time.Since(a.at); d >= 0 && d < anchorAge {
			return a.wall + int64(d)
		}
	}
	return renewAnchor()
}

// renewAnchor reads time.Now for wallNanos and keeps it as the anchor when
// its two clock readings are a true pair. time.Now reads the wall clock,
// then the monotonic one: a thread descheduled between the two gives a
// reading whose wall time is older than its monotonic time by the delay,
// which for one caller of time.Now is one late answer, but in an anchor
// would make every goroutine's clock late by as much for a millisecond. So
// two readings are taken and kept only if their wall and monotonic clocks
// moved alike between them (a delay inside both, of the same length, is
// the one case this misses); otherwise the answer is the second reading's,
// as plain time.Now would have given it, and no anchor is kept.
func renewAnchor() int64 {
	t1 := time.Now()
	t2 := time.Now()
	wall := t2.UnixNano()
	if truePair(time.Duration(wall-t1.UnixNano()), t2.Sub(t1)) {
		anchor.Store(&clockAnchor{at: t2, wall: wall})
	}
	return wall
}

// truePair reports whether the wall clock moved by about as much as the
// monotonic one between two readings of time.Now (wall and mono).
func truePair(wall, mono time.Duration) bool {
	skew := wall - mono
	return skew > -anchorSkew && skew < anchorSkew
}

// anchorSkew is how far the wall and monotonic clocks may move apart
// between renewAnchor's two readings: far more than the two clocks' rates
// can make of it (NTP slews them alike on Linux; elsewhere a few ns), far
// less than a thread's time off its processor.
const anchorSkew = 5 * time.Microsecond

// anchorAge is how long, in monotonic time, wallNanos goes on from one
// reading of the wall clock.
const anchorAge = time.Millisecond

// clockAnchor is a reading of time.Now: at keeps its monotonic reading, for
// time.Since, and wall its wall reading.
type clockAnchor struct {
	at   time.Time
	wall int64
}

var anchor atomic.Pointer[clockAnchor]

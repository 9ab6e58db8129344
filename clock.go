package foxstore

import (
	"sync/atomic"
	"time"
)

// wallNanos is the wall clock in Unix nanoseconds, for TTL arithmetic.
//
// time.Now reads two clocks, the wall clock and the monotonic one: 37 ns on
// the machine BENCHMARKS.md was measured on, a fifth of a Set with a TTL.
// wallNanos calls it at most once per millisecond (anchorAge) of monotonic
// time and in between adds the monotonic time elapsed since that call to
// its wall reading; time.Since reads the monotonic clock alone (21 ns). The
// two clocks run at the same rate (NTP's slewing adjusts both), so the
// answers agree with time.Now's to within microseconds.
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
	now := time.Now()
	wall := now.UnixNano()
	anchor.Store(&clockAnchor{at: now, wall: wall})
	return wall
}

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

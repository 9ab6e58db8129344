package foxstore

import "time"

// wallNanos is the wall clock in Unix nanoseconds, for TTL arithmetic.
//
// One vDSO gettimeofday would be about twice as fast as time.Now here (30
// against 55 ns), but Go's syscall package calls the vDSO on the
// goroutine's own small stack, which the runtime itself stopped doing for
// its clock because some kernels' vDSO needs more stack than that
// (golang.org/issue/20427): not worth a chance of memory corruption.
func wallNanos() int64 { return time.Now().UnixNano() }

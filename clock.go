//go:build !(linux && amd64)

package foxstore

import "time"

// wallNanos is the wall clock in Unix nanoseconds, for TTL arithmetic.
func wallNanos() int64 { return time.Now().UnixNano() }

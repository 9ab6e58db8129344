package foxstore

import (
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/foxstore/foxstore/driver"
)

func jitter(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return rand.Int64N(n)
}

func sortWrites(ws []driver.Write) {
	slices.SortFunc(ws, func(a, b driver.Write) int { return strings.Compare(a.Key, b.Key) })
}

package redis

import (
	"errors"
	"strings"

	"github.com/foxstore/foxstore/driver"
)

// numSlots is the number of Redis Cluster hash slots.
const numSlots = 16384

// crcTable is the CRC-16/XMODEM table (polynomial 0x1021), the checksum Redis
// Cluster hashes keys with.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// hashTag returns the part of key that Redis Cluster hashes: the bytes
// between the first '{' and the next '}' if there are any, else all of key.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// slotOf returns the hash slot of key.
func slotOf(key string) int {
	var c uint16
	for _, b := range []byte(hashTag(key)) {
		c = c<<8 ^ crcTable[byte(c>>8)^b]
	}
	return int(c % numSlots)
}

// prefixSlot reports the slot of every key that starts with prefix, when the
// prefix alone decides it: it holds a complete, non-empty hash tag.
func prefixSlot(prefix string) (int, bool) {
	i := strings.IndexByte(prefix, '{')
	if i < 0 {
		return 0, false
	}
	if j := strings.IndexByte(prefix[i+1:], '}'); j > 0 {
		return slotOf(prefix), true
	}
	return 0, false
}

// errCrossSlot explains the cluster rule to whoever breaks it.
var errCrossSlot = errors.New("redis cluster: the keys fall in different hash slots, and Redis applies " +
	"MULTI/EXEC and WATCH only within one slot, so this cannot be atomic; give keys that are written " +
	"together a common hash tag, the part between { and }, such as {user:1}:name and {user:1}:mail " +
	"(or use a namespace whose name holds a hash tag, such as {app}, to put the whole store in one slot)")

func crossSlot() error {
	return driver.NewError(driver.CodeInvalid, "", "", errCrossSlot)
}

// writeSlot returns the one slot of the keys of ws, or ErrStorageInvalid.
func writeSlot(ws []driver.Write) (int, error) {
	slot := slotOf(ws[0].Key)
	for _, w := range ws[1:] {
		if slotOf(w.Key) != slot {
			return 0, crossSlot()
		}
	}
	return slot, nil
}

// groupBySlot splits keys by hash slot, keeping their order within a slot.
func groupBySlot(keys []string) [][]string {
	bySlot := map[int]int{}
	var groups [][]string
	for _, k := range keys {
		s := slotOf(k)
		i, ok := bySlot[s]
		if !ok {
			i = len(groups)
			bySlot[s] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], k)
	}
	return groups
}

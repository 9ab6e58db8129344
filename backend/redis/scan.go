package redis

import (
	"context"
	"slices"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/foxstore/foxstore/driver"
)

// scanCount is the COUNT hint of each SCAN: how many slots of the keyspace
// the server walks per call, so about how many keys a page holds.
const scanCount = 1000

type kv struct {
	key string
	e   driver.Entry
}

// Scan implements driver.Backend. SCAN MATCH visits the keys with the
// range's literal prefix (on every master of a cluster, or on the one master
// that the prefix's hash tag names), and the values of each page are fetched
// in the round trip of the next SCAN. Redis returns keys in no order, so the
// matches are collected and sorted before fn sees them.
func (s *Store) Scan(ctx context.Context, start, end string, fn func(string, driver.Entry) bool) error {
	prefix := rangePrefix(start, end)
	match := escapeGlob(prefix) + "*"
	inRange := func(k string) bool { return k >= start && (end == "" || k < end) }

	var (
		mu  sync.Mutex
		all []kv
	)
	collect := func(part []kv) {
		mu.Lock()
		all = append(all, part...)
		mu.Unlock()
	}
	var err error
	switch {
	case s.single != nil:
		err = s.scanNode(ctx, s.single, match, inRange, collect)
	default:
		if _, ok := prefixSlot(prefix); ok {
			var node *goredis.Client
			node, err = s.cluster.MasterForKey(ctx, prefix)
			if err == nil {
				err = s.scanNode(ctx, node, match, inRange, collect)
			}
			if err == nil && len(all) > 0 {
				break
			}
			// Nothing found, or the node answered MOVED: the client's slot
			// map may be stale (a slot moved), so ask every master.
			if ctx.Err() != nil {
				break
			}
			s.cluster.ReloadState(ctx)
			all = all[:0]
		}
		err = s.cluster.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			return s.scanNode(ctx, node, match, inRange, collect)
		})
	}
	if err != nil {
		return s.wrap(ctx, err)
	}
	slices.SortFunc(all, func(a, b kv) int { return strings.Compare(a.key, b.key) })
	for i, x := range all {
		if i > 0 && x.key == all[i-1].key {
			continue // SCAN may return a key twice
		}
		if !fn(x.key, x.e) {
			return nil
		}
	}
	return nil
}

// scanNode walks one server's keyspace. Each round trip carries the next
// SCAN and the MGET of the previous page's keys; on a cluster node, one MGET
// per hash slot, as MGET cannot cross slots.
func (s *Store) scanNode(ctx context.Context, node *goredis.Client, match string, inRange func(string) bool, collect func([]kv)) error {
	var (
		cursor  uint64
		pending []string // keys of the last page, whose values are still to read
		more    = true
	)
	for more || len(pending) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		var (
			scan   *goredis.ScanCmd
			groups [][]string
			mgets  []*goredis.SliceCmd
		)
		if len(pending) > 0 {
			groups = [][]string{pending}
			if s.cluster != nil {
				groups = groupBySlot(pending)
			}
		}
		_, err := node.Pipelined(ctx, func(p goredis.Pipeliner) error {
			if more {
				scan = p.Scan(ctx, cursor, match, scanCount)
			}
			for _, g := range groups {
				mgets = append(mgets, p.MGet(ctx, g...))
			}
			return nil
		})
		if err != nil {
			return s.wrap(ctx, err)
		}
		var page []kv
		for i, g := range groups {
			err := eachValue(g, mgets[i].Val(), func(k string, e driver.Entry) { page = append(page, kv{k, e}) })
			if err != nil {
				return err
			}
		}
		collect(page)
		pending = nil
		if more {
			var keys []string
			keys, cursor = scan.Val()
			for _, k := range keys {
				if inRange(k) {
					pending = append(pending, k)
				}
			}
			more = cursor != 0
		}
	}
	return nil
}

// rangePrefix returns the longest prefix shared by every key in [start, end)
// (end "" = no bound): the literal part of the SCAN MATCH pattern.
func rangePrefix(start, end string) string {
	for i := len(start); i > 0; i-- {
		p := start[:i]
		pe := prefixEnd(p)
		if pe == "" || (end != "" && end <= pe) {
			return p
		}
	}
	return ""
}

// prefixEnd returns the least string greater than every string with prefix
// p, or "" if there is none.
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// escapeGlob makes s a literal in a Redis glob pattern. Redis compares the
// other bytes, 0x00 and 0xFF included, as they are.
func escapeGlob(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '*', '?', '[', ']':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/foxstore/foxstore/driver"
)

// Get implements driver.Backend with one GET.
func (s *Store) Get(ctx context.Context, key string) (driver.Entry, bool, error) {
	return s.get(ctx, s.client, key)
}

func (s *Store) get(ctx context.Context, c goredis.Cmdable, key string) (driver.Entry, bool, error) {
	b, err := c.Get(ctx, key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return driver.Entry{}, false, nil
	}
	if err != nil {
		return driver.Entry{}, false, s.readErr(ctx, err)
	}
	e, err := decodeEntry(b)
	if err != nil {
		return driver.Entry{}, false, err
	}
	return e, true, nil
}

// readErr is wrap, plus: a key of another Redis type than string was not
// written by foxstore, which makes it corrupted data rather than a failure.
func (s *Store) readErr(ctx context.Context, err error) error {
	if strings.HasPrefix(err.Error(), "WRONGTYPE") {
		return corrupted(errors.New("the key holds a Redis type other than string"))
	}
	return s.wrap(ctx, err)
}

// GetMany implements driver.BatchGetter with one MGET, or on a cluster one
// MGET per hash slot, sent in one pipeline.
func (s *Store) GetMany(ctx context.Context, keys []string, fn func(string, driver.Entry)) error {
	if len(keys) == 0 {
		return nil
	}
	groups := [][]string{keys}
	if s.cluster != nil {
		groups = groupBySlot(keys)
	}
	cmds := make([]*goredis.SliceCmd, len(groups))
	var err error
	if len(groups) == 1 {
		cmds[0] = s.client.MGet(ctx, keys...)
		err = cmds[0].Err()
	} else {
		_, err = s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, g := range groups {
				cmds[i] = p.MGet(ctx, g...)
			}
			return nil
		})
	}
	if err != nil {
		return s.wrap(ctx, err)
	}
	for i, g := range groups {
		if err := eachValue(g, cmds[i].Val(), fn); err != nil {
			return err
		}
	}
	return nil
}

// eachValue calls fn for every key of an MGET answer that holds a value.
func eachValue(keys []string, vals []any, fn func(string, driver.Entry)) error {
	if len(vals) != len(keys) {
		return fmt.Errorf("redis: MGET of %d keys returned %d values", len(keys), len(vals))
	}
	for i, v := range vals {
		if v == nil {
			continue
		}
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("redis: MGET returned a %T", v)
		}
		e, err := decodeEntry([]byte(str))
		if err != nil {
			return err
		}
		fn(keys[i], e)
	}
	return nil
}

// Apply implements driver.Backend. One command does for a single write, and
// for several writes of one kind (MSET of entries without expiry, DEL);
// anything else is one MULTI/EXEC. On a cluster, several writes must share a
// hash slot; otherwise Apply sends nothing and returns ErrStorageInvalid.
func (s *Store) Apply(ctx context.Context, ws []driver.Write) error {
	if len(ws) == 0 {
		return nil
	}
	if s.cluster != nil && len(ws) > 1 {
		if _, err := writeSlot(ws); err != nil {
			return err
		}
	}
	g := groupWrites(ws)
	if g.commands() == 1 {
		return s.wrap(ctx, g.queue(ctx, s.client)[0].Err())
	}
	_, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		g.queue(ctx, p)
		return nil
	})
	return s.wrap(ctx, err)
}

// writeGroups sorts a write set into the fewest commands: one MSET for the
// entries without expiry, one DEL, and a SET ... PXAT per entry with one.
// The keys of a write set are distinct, so the order of commands is free.
type writeGroups struct {
	mset    []any // key, value, key, value...
	del     []string
	expires []driver.Write
}

func groupWrites(ws []driver.Write) writeGroups {
	var (
		g    writeGroups
		buf  []byte // the MSET values, end to end: one allocation, not one each
		ends []int
	)
	for _, w := range ws {
		switch {
		case w.Delete:
			g.del = append(g.del, w.Key)
		case w.Entry.Expires == 0:
			buf = appendEntry(buf, w.Entry)
			ends = append(ends, len(buf))
			g.mset = append(g.mset, w.Key, nil)
		default:
			g.expires = append(g.expires, w)
		}
	}
	start := 0
	for i, end := range ends {
		g.mset[2*i+1] = buf[start:end:end]
		start = end
	}
	return g
}

func (g writeGroups) commands() int {
	n := len(g.expires)
	if len(g.mset) > 0 {
		n++
	}
	if len(g.del) > 0 {
		n++
	}
	return n
}

// queue sends (or queues, on a pipeline) the commands of g. A SET without
// expiry, as MSET does, also clears any expiry the key had.
func (g writeGroups) queue(ctx context.Context, c goredis.Cmdable) []goredis.Cmder {
	var cmds []goredis.Cmder
	if len(g.mset) > 0 {
		cmds = append(cmds, c.MSet(ctx, g.mset...))
	}
	if len(g.del) > 0 {
		cmds = append(cmds, c.Del(ctx, g.del...))
	}
	for _, w := range g.expires {
		exp := time.UnixMilli(w.Entry.Expires)
		cmds = append(cmds, c.SetArgs(ctx, w.Key, encodeEntry(w.Entry), goredis.SetArgs{ExpireAt: exp}))
	}
	return cmds
}

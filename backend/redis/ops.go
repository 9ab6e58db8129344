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

// Apply implements driver.Backend: one SET or DEL for a single write,
// MULTI/EXEC for several. On a cluster, several writes must share a hash
// slot; otherwise Apply sends nothing and returns ErrStorageInvalid.
func (s *Store) Apply(ctx context.Context, ws []driver.Write) error {
	switch {
	case len(ws) == 0:
		return nil
	case len(ws) == 1:
		return s.wrap(ctx, queueWrite(ctx, s.client, ws[0]).Err())
	case s.cluster != nil:
		if _, err := writeSlot(ws); err != nil {
			return err
		}
	}
	_, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		for _, w := range ws {
			queueWrite(ctx, p, w)
		}
		return nil
	})
	return s.wrap(ctx, err)
}

// queueWrite sends (or queues, on a pipeline) the command for w. A SET
// without expiry also clears any expiry the key had.
func queueWrite(ctx context.Context, c goredis.Cmdable, w driver.Write) goredis.Cmder {
	if w.Delete {
		return c.Del(ctx, w.Key)
	}
	val := encodeEntry(w.Entry)
	if w.Entry.Expires == 0 {
		return c.Set(ctx, w.Key, val, 0)
	}
	return c.SetArgs(ctx, w.Key, val, goredis.SetArgs{ExpireAt: time.UnixMilli(w.Entry.Expires)})
}

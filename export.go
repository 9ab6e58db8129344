package foxstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/foxstore/foxstore/driver"
)

// Record is one live key with its encoded value and deadline, as Export
// gives it and Import takes it. Value keeps the stored Go type, so a
// record moves between backends without losing anything.
type Record struct {
	Key     string
	Value   Value
	Expires time.Time // zero: never expires
}

// errNotOurs is returned by the functions that need a store made by Open or New.
var errNotOurs = errors.New("needs a store made by foxstore.Open or foxstore.New")

// Export calls fn with every live key that matches pattern, in ascending key
// order. It is how dumps and migrations read a store. fn must not call back
// into s.
func Export(ctx context.Context, s StoragePlugin, pattern string, fn func(Record) error) error {
	fs, ok := s.(*store)
	if !ok {
		return invalid("export", "", errNotOurs)
	}
	var ferr error
	err := fs.scan(ctx, "export", pattern, func(k string, e driver.Entry) {
		if ferr != nil {
			return
		}
		r := Record{Key: k, Value: e.Value}
		if e.Expires != 0 {
			r.Expires = time.UnixMilli(e.Expires)
		}
		ferr = fn(r)
	})
	if err != nil {
		return err
	}
	return ferr
}

// Import writes recs atomically, as one batch: each key gets its value and
// its deadline. Records that have already expired are skipped. A bad key or
// an oversized value rejects the whole batch with ErrStorageInvalid.
func Import(ctx context.Context, s StoragePlugin, recs []Record) error {
	const op = "import"
	fs, ok := s.(*store)
	if !ok {
		return invalid(op, "", errNotOurs)
	}
	now := time.Now()
	ws := make([]driver.Write, 0, len(recs))
	seen := make(map[string]bool, len(recs))
	for _, r := range recs {
		if err := checkKey(r.Key); err != nil {
			return invalid(op, r.Key, err)
		}
		if r.Value.Kind() == 0 {
			return invalid(op, r.Key, errors.New("zero Value"))
		}
		if max := fs.c.maxValueSize(); int64(r.Value.Size()) > max {
			return invalid(op, r.Key, fmt.Errorf("encoded value is %d bytes, more than max_value_size %d", r.Value.Size(), max))
		}
		if seen[r.Key] {
			return invalid(op, r.Key, errors.New("key appears twice in one import"))
		}
		seen[r.Key] = true
		var exp int64
		if !r.Expires.IsZero() {
			exp = r.Expires.UnixMilli()
			if r.Expires.Sub(now) < time.Millisecond || exp <= now.UnixMilli() {
				continue
			}
		}
		ws = append(ws, driver.Write{Key: fs.ns + r.Key, Entry: driver.Entry{Value: r.Value, Expires: exp}})
	}
	b, err := fs.begin(ctx, op, "", CodeWriteFailed)
	if err != nil || len(ws) == 0 {
		return err
	}
	sortWrites(ws)
	return fs.apply(ctx, b, op, "", ws)
}

// Backup writes a consistent copy of the whole store to w while writes
// continue, for backends that can (the file backend: the copy is a store
// file that Open restores). Others give ErrStorageInvalid; use Export.
func Backup(ctx context.Context, s StoragePlugin, w io.Writer) error {
	const op = "backup"
	fs, ok := s.(*store)
	if !ok {
		return invalid(op, "", errNotOurs)
	}
	b, err := fs.begin(ctx, op, "", CodeReadFailed)
	if err != nil {
		return err
	}
	bk, ok := b.(driver.Backuper)
	if !ok {
		return invalid(op, "", fmt.Errorf("backend %q cannot make online backups; use Export", fs.c.cfg.Backend))
	}
	if err := bk.Backup(ctx, w); err != nil {
		return fs.fail(op, "", CodeReadFailed, err)
	}
	return nil
}

package dump

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/driver"
)

// MusicfoxBucket is the bucket go-musicfox keeps its settings in, in
// <data dir>/db/musicfox.db: cur_user, playlist_snapshot, play_mode_int,
// volume, lastfm_user and more, each a JSON document.
const MusicfoxBucket = "default_bucket"

// boltLockWait is how long to wait for another process (go-musicfox itself)
// to release the database before giving up.
const boltLockWait = time.Second

// Bolt reads one bucket of a bbolt database, the store of go-musicfox v1,
// as records. It opens the file read-only and never changes it.
//
// Values that are valid JSON (everything go-musicfox writes) become the
// "json" type with their exact bytes, so foxstore.GetAs[T] decodes them as
// go-musicfox's own json.Unmarshal did; any other value becomes "bytes".
// Nested buckets are not key-value pairs: they are listed in Nested and skipped.
type Bolt struct {
	Path   string
	Bucket string // MusicfoxBucket when empty

	// Nested lists the nested buckets that Each skipped.
	Nested []string
}

func (b *Bolt) bucket() string {
	if b.Bucket == "" {
		return MusicfoxBucket
	}
	return b.Bucket
}

// open opens the database read-only, with errors that say what to do.
func (b *Bolt) open() (*bbolt.DB, error) {
	if _, err := os.Stat(b.Path); err != nil {
		return nil, &foxstore.Error{Op: "open bbolt " + b.Path, Code: foxstore.CodeInvalid, Err: err}
	}
	db, err := bbolt.Open(b.Path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: boltLockWait})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, &foxstore.Error{Op: "open bbolt " + b.Path, Code: foxstore.CodeLocked,
			Err: errors.New("another process holds the database (is go-musicfox running? quit it and retry)")}
	case err != nil:
		// The file was named on the command line: whatever keeps bbolt
		// from reading it (not a bbolt file, damaged, unreadable) is bad input.
		return nil, &foxstore.Error{Op: "open bbolt " + b.Path, Code: foxstore.CodeInvalid,
			Err: fmt.Errorf("not a readable bbolt database: %w", err)}
	}
	return db, nil
}

// view runs fn on the bucket in a read transaction.
func (b *Bolt) view(fn func(*bbolt.Bucket) error) error {
	db, err := b.open()
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bbolt.Tx) error {
		bk := tx.Bucket([]byte(b.bucket()))
		if bk == nil {
			var names []string
			_ = tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
				names = append(names, fmt.Sprintf("%q", name))
				return nil
			})
			have := "it has none"
			if len(names) > 0 {
				have = "it has " + strings.Join(names, ", ")
			}
			return &foxstore.Error{Op: "open bbolt " + b.Path, Code: foxstore.CodeInvalid,
				Err: fmt.Errorf("no bucket %q (%s); choose one with --bucket", b.bucket(), have)}
		}
		return fn(bk)
	})
}

// Count returns the number of key-value pairs in the bucket.
func (b *Bolt) Count(ctx context.Context) (int, error) {
	n := 0
	err := b.view(func(bk *bbolt.Bucket) error {
		return bk.ForEach(func(_, v []byte) error {
			if v != nil {
				n++
			}
			return ctx.Err()
		})
	})
	return n, err
}

// Each calls fn with every key-value pair of the bucket, in key order.
func (b *Bolt) Each(ctx context.Context, fn func(foxstore.Record) error) error {
	b.Nested = nil
	return b.view(func(bk *bbolt.Bucket) error {
		return bk.ForEach(func(k, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if v == nil {
				b.Nested = append(b.Nested, string(k))
				return nil
			}
			val, err := boltValue(v)
			if err != nil {
				return &foxstore.Error{Op: "read bbolt", Key: string(k), Code: foxstore.CodeCorrupted, Err: err}
			}
			// k and v belong to bbolt's memory map and die with the
			// transaction: the key is copied by string(), the value by boltValue.
			return fn(foxstore.Record{Key: string(k), Value: val})
		})
	})
}

// boltValue turns a stored byte string into a Value that owns its memory.
func boltValue(v []byte) (foxstore.Value, error) {
	t := bytes.TrimSpace(v)
	if len(t) > 0 && json.Valid(t) {
		return driver.ValueFromJSON("json", t)
	}
	return driver.EncodeValue(bytes.Clone(v))
}

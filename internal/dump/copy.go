package dump

import (
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/foxstore/foxstore"
)

// Source gives records: a store, a dump, a bbolt database.
type Source interface {
	// Each calls fn with every record, stopping at the first error.
	Each(ctx context.Context, fn func(foxstore.Record) error) error
}

// Counter is implemented by sources that know their size up front, which
// a progress bar needs.
type Counter interface {
	Count(ctx context.Context) (int, error)
}

// Store is a Source that reads the live keys of a store matching Pattern
// ("*" when empty) through foxstore.Export.
type Store struct {
	S       foxstore.StoragePlugin
	Pattern string
}

func (s Store) pattern() string {
	if s.Pattern == "" {
		return "*"
	}
	return s.Pattern
}

// Each implements Source.
func (s Store) Each(ctx context.Context, fn func(foxstore.Record) error) error {
	return foxstore.Export(ctx, s.S, s.pattern(), fn)
}

// Count implements Counter.
func (s Store) Count(ctx context.Context) (int, error) { return s.S.Count(ctx, s.pattern()) }

// Each implements Source: it reads the rest of the dump.
func (r *Reader) Each(ctx context.Context, fn func(foxstore.Record) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// DefaultBatch is the number of records Copy writes per foxstore.Import.
const DefaultBatch = 500

// CopyOptions control Copy.
type CopyOptions struct {
	Batch int // records per write; DefaultBatch when 0
	// SkipInvalid drops records the destination rejects as invalid (a key
	// that is not UTF-8, a value over max_value_size) and lists them in the
	// report, instead of stopping at the first one.
	SkipInvalid bool
	// Progress, if set, is called after each batch with the records read so far.
	Progress func(read int)
	Now      func() time.Time // time.Now when nil
}

// Skip is a record that Copy left out, and why.
type Skip struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// Report says what Copy did.
type Report struct {
	Read    int    `json:"read"`    // records the source gave
	Written int    `json:"written"` // records written to the destination
	Expired int    `json:"expired"` // records already expired, not written
	Skipped []Skip `json:"skipped,omitempty"`
	Batches int    `json:"batches"`
	// FailedFrom and FailedTo are the first and last keys of the batch that
	// failed, when one did; nothing of that batch was written.
	FailedFrom string `json:"failed_from,omitempty"`
	FailedTo   string `json:"failed_to,omitempty"`

	deadlines []int64 // Unix ms of the written records that expire, sorted by LiveAt
}

// LiveAt returns how many written records are still live at t.
func (r *Report) LiveAt(t time.Time) int {
	slices.Sort(r.deadlines)
	ms := t.UnixMilli()
	i, _ := slices.BinarySearch(r.deadlines, ms+1)
	return r.Written - i
}

// Copy writes every record of src into dst in batches of opt.Batch, each
// batch atomic (foxstore.Import), keeping each record's type and deadline.
// A key that appears twice ends up with its later record. On error the
// report says how far it got; batches before the failed one stay written.
func Copy(ctx context.Context, dst foxstore.StoragePlugin, src Source, opt CopyOptions) (*Report, error) {
	if opt.Batch <= 0 {
		opt.Batch = DefaultBatch
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	rep := &Report{}
	batch := make([]foxstore.Record, 0, opt.Batch)
	inBatch := make(map[string]bool, opt.Batch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := writeBatch(ctx, dst, batch, opt.SkipInvalid, rep); err != nil {
			rep.FailedFrom, rep.FailedTo = batch[0].Key, batch[len(batch)-1].Key
			return err
		}
		batch = batch[:0]
		clear(inBatch)
		if opt.Progress != nil {
			opt.Progress(rep.Read)
		}
		return nil
	}
	err := src.Each(ctx, func(r foxstore.Record) error {
		rep.Read++
		// Import skips records that expire within a millisecond without a
		// word; count them here so the report adds up.
		if !r.Expires.IsZero() && r.Expires.Sub(opt.Now()) < 2*time.Millisecond {
			rep.Expired++
			return nil
		}
		if inBatch[r.Key] {
			// The later record wins, as if each were written in turn.
			if err := flush(); err != nil {
				return err
			}
		}
		batch = append(batch, r)
		inBatch[r.Key] = true
		if len(batch) >= opt.Batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return rep, err
}

// writeBatch imports batch; with skipInvalid it drops each record the store
// rejects as invalid and tries again.
func writeBatch(ctx context.Context, dst foxstore.StoragePlugin, batch []foxstore.Record, skipInvalid bool, rep *Report) error {
	for len(batch) > 0 {
		err := foxstore.Import(ctx, dst, batch)
		if err == nil {
			break
		}
		var fe *foxstore.Error
		if !skipInvalid || !errors.As(err, &fe) || fe.Code != foxstore.CodeInvalid {
			return err
		}
		i := slices.IndexFunc(batch, func(r foxstore.Record) bool { return r.Key == fe.Key })
		if i < 0 {
			return err
		}
		reason := err.Error()
		if fe.Err != nil {
			reason = fe.Err.Error()
		}
		rep.Skipped = append(rep.Skipped, Skip{Key: fe.Key, Reason: reason})
		batch = slices.Delete(slices.Clone(batch), i, i+1)
	}
	rep.Batches++
	rep.Written += len(batch)
	for _, r := range batch {
		if !r.Expires.IsZero() {
			rep.deadlines = append(rep.deadlines, r.Expires.UnixMilli())
		}
	}
	return nil
}

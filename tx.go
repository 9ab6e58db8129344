package foxstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/foxstore/foxstore/driver"
)

// txn is the front's transaction: it validates and encodes, buffers writes so
// that reads see them, and hands them to the backend transaction at Commit.
// Its methods are safe for concurrent use; they run one at a time.
type txn struct {
	s   *store
	ctx context.Context

	mu     sync.Mutex // guards everything below
	btx    driver.Tx
	done   bool
	writes map[string]driver.Write // by stored key
	// now is the instant (Unix ms) at which every read of the transaction
	// judges expiry, fixed at its first read: a key that expired between
	// two reads would otherwise give them two answers. And since backends
	// check at commit what is stored, not the clock, the transaction
	// itself checks that no key it read as live has expired by its commit:
	// firstExp is the earliest deadline among them (0: none), firstExpKey
	// its key.
	now         int64
	firstExp    int64
	firstExpKey string
}

// BeginTransaction starts a serializable transaction bounded by ctx.
func (s *store) BeginTransaction(ctx context.Context) (Transaction, error) {
	const op = "begin"
	b, err := s.begin(ctx, op, "", CodeReadFailed)
	if err != nil {
		return nil, err
	}
	btx, err := b.Begin(ctx)
	if err != nil {
		return nil, s.fail(op, "", CodeReadFailed, err)
	}
	return &txn{s: s, ctx: ctx, btx: btx, writes: map[string]driver.Write{}}, nil
}

// check runs under t.mu before every operation.
func (t *txn) check(op, key string, code int) error {
	if t.done {
		return &Error{Op: op, Key: key, Code: CodeTxDone}
	}
	if t.s.nsErr != nil {
		return invalid(op, key, t.s.nsErr)
	}
	if key != "" || op != "commit" {
		if err := checkKey(key); err != nil {
			return invalid(op, key, err)
		}
	}
	if t.s.c.state.Load() != stateRunning {
		return &Error{Op: op, Key: key, Code: CodeClosed}
	}
	if err := t.ctx.Err(); err != nil {
		return &Error{Op: op, Key: key, Code: code, Err: err}
	}
	return nil
}

func (t *txn) Get(key string) (interface{}, error) {
	const op = "tx get"
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.check(op, key, CodeReadFailed); err != nil {
		return nil, err
	}
	sk := t.s.stored(key)
	if w, ok := t.writes[sk]; ok {
		if w.Delete {
			return nil, notFound(op, key)
		}
		return decode(op, key, w.Entry)
	}
	e, ok, err := t.btx.Get(t.ctx, sk)
	if err != nil {
		return nil, t.s.fail(op, key, CodeReadFailed, err)
	}
	if t.now == 0 {
		t.now = nowMs()
	}
	if !ok || !e.Live(t.now) {
		return nil, notFound(op, key)
	}
	if e.Expires != 0 && (t.firstExp == 0 || e.Expires < t.firstExp) {
		t.firstExp, t.firstExpKey = e.Expires, key
	}
	return decode(op, key, e)
}

func (t *txn) Set(key string, value interface{}) error {
	const op = "tx set"
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.check(op, key, CodeWriteFailed); err != nil {
		return err
	}
	v, err := t.s.encode(op, key, value)
	if err != nil {
		return err
	}
	sk := t.s.stored(key)
	t.writes[sk] = driver.Write{Key: sk, Entry: driver.Entry{Value: v}}
	return nil
}

func (t *txn) Delete(key string) error {
	const op = "tx delete"
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.check(op, key, CodeWriteFailed); err != nil {
		return err
	}
	sk := t.s.stored(key)
	t.writes[sk] = driver.Write{Key: sk, Delete: true}
	return nil
}

func (t *txn) Commit() error {
	const op = "commit"
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.check(op, "", CodeWriteFailed); err != nil {
		if !t.done {
			t.done = true
			t.btx.Rollback()
		}
		return err
	}
	t.done = true
	if t.firstExp != 0 && nowMs() >= t.firstExp {
		t.btx.Rollback()
		return &Error{Op: op, Key: t.firstExpKey, Code: CodeConflict, Err: errReadExpired}
	}
	ws := make([]driver.Write, 0, len(t.writes))
	for _, w := range t.writes {
		ws = append(ws, w)
	}
	sortWrites(ws)
	if rc := t.s.c.cache.Load(); rc != nil {
		defer rc.invalidate(ws)
	}
	if err := t.btx.Commit(t.ctx, ws); err != nil {
		if ctxErr := t.ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			// The transaction's context ended: say so, whatever the
			// backend made of it.
			return &Error{Op: op, Code: CodeWriteFailed, Err: errors.Join(ctxErr, err)}
		}
		return t.s.fail(op, "", CodeWriteFailed, err)
	}
	return nil
}

var errReadExpired = errors.New("a key the transaction read expired before its commit")

func (t *txn) Rollback() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil
	}
	t.done = true
	t.writes = nil
	if err := t.btx.Rollback(); err != nil && t.s.c.state.Load() == stateRunning {
		return wrapErr("rollback", "", CodeWriteFailed, err)
	}
	return nil
}

// retryConflicts runs fn until it returns something other than a conflict,
// backing off between tries, until ctx ends.
func retryConflicts(ctx context.Context, fn func() error) error {
	wait := time.Millisecond
	for {
		err := fn()
		if !errors.Is(err, ErrStorageConflict) {
			return err
		}
		// Jitter spreads out the retries of transactions that collided.
		d := wait/2 + time.Duration(jitter(int64(wait)))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			// Matches the context error, ErrStorageWriteFailed and,
			// through the cause, ErrStorageConflict.
			return &Error{Op: "retry", Code: CodeWriteFailed, Err: errors.Join(ctx.Err(), err)}
		case <-t.C:
		}
		wait = min(wait*2, 100*time.Millisecond)
	}
}

func update(ctx context.Context, s StoragePlugin, fn func(Transaction) error) error {
	return retryConflicts(ctx, func() error {
		tx, err := s.BeginTransaction(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Commit()
	})
}

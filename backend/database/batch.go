package database

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/foxstore/foxstore/driver"
)

// Limits of one multi-row statement.
const (
	// maxRows bounds the rows of one SQLite or MySQL statement (3
	// placeholders each, far below SQLite's 32,766 and MySQL's 65,535).
	// Past a few dozen rows, a larger statement saves next to nothing.
	maxRows = 256
	// maxStmtBytes bounds the keys and values sent in one multi-row
	// statement; a larger value travels in a statement of its own.
	maxStmtBytes = 4 << 20
)

// Apply implements driver.Backend: one statement for one write, otherwise
// one transaction with as few statements as the driver allows.
//
// On PostgreSQL every Apply is a SERIALIZABLE transaction, so that SSI sees
// its writes: a transaction that read a key and commits after a plain Set
// or Delete of it fails instead of losing the update. A single write goes
// as BEGIN, the statement and COMMIT in one pipelined round trip.
//
// Apply only writes, so when the database reports a conflict (a deadlock,
// a serialization failure, a busy SQLite file) nothing was applied and it
// tries again, bounded by ctx and conflictBudget.
func (s *Store) Apply(ctx context.Context, ws []driver.Write) error {
	if s.closed.Load() {
		return errClosed
	}
	if len(ws) == 0 {
		return nil
	}
	if err := s.checkSizes(ws); err != nil {
		return err
	}
	err := retryConflicts(ctx, func() error { return s.applyOnce(ctx, ws) })
	s.notify.announce(ws)
	return s.classify(ctx, err)
}

// conflictBudget bounds how long Apply and Sweep retry conflicts.
const conflictBudget = 30 * time.Second

// retryConflicts runs fn again, with growing pauses, while it fails with a
// conflict, until ctx ends or conflictBudget has passed.
func retryConflicts(ctx context.Context, fn func() error) error {
	give := time.Now().Add(conflictBudget)
	pause := time.Millisecond
	for {
		err := fn()
		if err == nil || !isConflict(err) || ctx.Err() != nil || time.Now().After(give) {
			return err
		}
		t := time.NewTimer(pause/2 + rand.N(pause))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

func (s *Store) applyOnce(ctx context.Context, ws []driver.Write) error {
	if s.writer != nil {
		return s.sqliteApply(ctx, ws)
	}
	if len(ws) == 1 {
		if s.d.name == "postgres" {
			return s.pgApplyOne(ctx, ws[0])
		}
		return s.writeOne(ctx, s.poolBinder(ctx), ws[0])
	}
	var opts *sql.TxOptions
	if s.d.name == "postgres" {
		opts = &sql.TxOptions{Isolation: sql.LevelSerializable}
	}
	tx, err := s.beginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := s.write(ctx, s.txBinder(ctx, tx.Tx), ws); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// pgApplyOne runs one write on PostgreSQL as a SERIALIZABLE transaction in
// a single round trip: BEGIN, the statement and COMMIT go to the server as
// one pipelined pgx batch on a connection of the pool. Like database/sql,
// it moves to another connection (at most twice) when the batch could not
// be sent on the one it got.
func (s *Store) pgApplyOne(ctx context.Context, w driver.Write) error {
	var err error
	for range 3 {
		err = s.pgApplyOnConn(ctx, w)
		if !errors.Is(err, sqldriver.ErrBadConn) {
			break
		}
	}
	return err
}

func (s *Store) pgApplyOnConn(ctx context.Context, w driver.Write) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		if pc.IsClosed() {
			return sqldriver.ErrBadConn // database/sql drops the connection
		}
		var b pgx.Batch
		b.Queue("BEGIN ISOLATION LEVEL SERIALIZABLE")
		if w.Delete {
			b.Queue(s.d.del, []byte(w.Key))
		} else {
			b.Queue(s.d.put, []byte(w.Key), w.Entry.Value.Bytes(), w.Entry.Expires)
		}
		b.Queue("COMMIT")
		err := pc.SendBatch(ctx, &b).Close()
		switch {
		case err == nil:
			return nil
		case pgconn.SafeToRetry(err):
			// Nothing reached the server: another connection may send it.
			return sqldriver.ErrBadConn
		case !pc.IsClosed() && pc.PgConn().TxStatus() != 'I':
			// The statement failed, so the server skipped the COMMIT and
			// the transaction is aborted. Roll it back to make the
			// connection usable again, or close it if even that fails
			// (the pool then drops it).
			rctx, cancel := cleanupContext(ctx)
			defer cancel()
			if _, rerr := pc.Exec(rctx, "ROLLBACK"); rerr != nil {
				pc.Close(rctx)
			}
		}
		return err
	})
}

// checkSizes refuses, before anything is sent, values the server would
// refuse (MySQL's max_allowed_packet below max_value_size).
func (s *Store) checkSizes(ws []driver.Write) error {
	if s.maxValue == 0 {
		return nil
	}
	for _, w := range ws {
		if !w.Delete && w.Entry.Value.Size() > s.maxValue {
			return driver.NewError(driver.CodeInvalid, "", "", fmt.Errorf(
				"encoded value is %d bytes, more than the server's max_allowed_packet (%d)", w.Entry.Value.Size(), s.maxValue))
		}
	}
	return nil
}

// binder returns the statement for a query, ready to run where a write
// runs: on the pool, in a transaction, or on SQLite's writer connection.
type binder func(query string) (stmt, error)

// poolBinder runs statements on the pool.
func (s *Store) poolBinder(ctx context.Context) binder {
	return func(q string) (stmt, error) { return s.stmt(ctx, q) }
}

// txBinder runs statements in tx, on its connection only.
func (s *Store) txBinder(ctx context.Context, tx *sql.Tx) binder {
	return func(q string) (stmt, error) { return s.txStmt(ctx, tx, q) }
}

// writeOne runs one write with the statement bind gives.
func (s *Store) writeOne(ctx context.Context, bind binder, w driver.Write) error {
	q := s.d.put
	if w.Delete {
		q = s.d.del
	}
	st, err := bind(q)
	if err != nil {
		return err
	}
	if w.Delete {
		_, err = st.ExecContext(ctx, []byte(w.Key))
	} else {
		_, err = st.ExecContext(ctx, []byte(w.Key), w.Entry.Value.Bytes(), w.Entry.Expires)
	}
	return err
}

// write runs ws with the statements bind gives, inside a transaction the
// caller began. ws holds each key once, so the order between upserts and
// deletes does not matter; each group stays in key order, the order in
// which rows are locked.
func (s *Store) write(ctx context.Context, bind binder, ws []driver.Write) error {
	if len(ws) == 1 {
		return s.writeOne(ctx, bind, ws[0])
	}
	var puts, dels []driver.Write
	for _, w := range ws {
		if w.Delete {
			dels = append(dels, w)
		} else {
			puts = append(puts, w)
		}
	}
	if s.d.name == "postgres" {
		return s.pgWrite(ctx, bind, puts, dels)
	}
	return s.multiWrite(ctx, bind, puts, dels)
}

func (s *Store) pgWrite(ctx context.Context, bind binder, puts, dels []driver.Write) error {
	for len(puts) > 0 {
		n, size := 0, 0
		for n < len(puts) && (n == 0 || size+rowSize(puts[n]) <= maxStmtBytes) {
			size += rowSize(puts[n])
			n++
		}
		ks, vs, es := make([][]byte, n), make([][]byte, n), make([]int64, n)
		for i, w := range puts[:n] {
			ks[i], vs[i], es[i] = []byte(w.Key), w.Entry.Value.Bytes(), w.Entry.Expires
		}
		st, err := bind(s.d.pgPutMany())
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, ks, vs, es); err != nil {
			return err
		}
		puts = puts[n:]
	}
	if len(dels) > 0 {
		ks := make([][]byte, len(dels))
		for i, w := range dels {
			ks[i] = []byte(w.Key)
		}
		st, err := bind(s.d.pgDelMany())
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, ks); err != nil {
			return err
		}
	}
	return nil
}

func rowSize(w driver.Write) int { return len(w.Key) + w.Entry.Value.Size() }

// multiWrite sends upserts and deletes on SQLite and MySQL in multi-row
// statements of power-of-two sizes (1000 rows: 256 + 256 + 256 + 128 + 64
// + 32 + 8), so that each size is prepared once per connection. On MySQL
// a statement is one round trip; on SQLite it saves the per-statement work
// of database/sql and the driver (locks, argument conversion, reset),
// about half of what a row costs in a prepared statement of its own.
func (s *Store) multiWrite(ctx context.Context, bind binder, puts, dels []driver.Write) error {
	var args []any
	for len(puts) > 0 {
		n, size := 0, 0
		for n < len(puts) && n < maxRows && (n == 0 || size+rowSize(puts[n]) <= maxStmtBytes) {
			size += rowSize(puts[n])
			n++
		}
		n = 1 << (bits.Len(uint(n)) - 1)
		args = args[:0]
		for _, w := range puts[:n] {
			args = append(args, []byte(w.Key), w.Entry.Value.Bytes(), w.Entry.Expires)
		}
		st, err := bind(s.d.putMany(n))
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return err
		}
		puts = puts[n:]
	}
	for len(dels) > 0 {
		n := 1 << (bits.Len(uint(min(len(dels), maxRows))) - 1)
		args = args[:0]
		for _, w := range dels[:n] {
			args = append(args, []byte(w.Key))
		}
		q := s.d.delMany(n)
		if n == 1 {
			q = s.d.del
		}
		st, err := bind(q)
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return err
		}
		dels = dels[n:]
	}
	return nil
}

// GetMany implements driver.BatchGetter. PostgreSQL takes any number of
// keys in one statement (k = ANY($1)); MySQL takes them in IN lists padded
// to a power of two (repeating a key is harmless), so one prepared
// statement per size serves every batch; SQLite runs its prepared point
// read per key, in process. Batches that need several statements run in
// one read-only transaction, so they see one snapshot.
func (s *Store) GetMany(ctx context.Context, keys []string, fn func(string, driver.Entry)) error {
	if s.closed.Load() {
		return errClosed
	}
	if len(keys) == 0 {
		return nil
	}
	return s.classify(ctx, s.readAgain(ctx, func(delivered *bool) error {
		return s.getManyOnce(ctx, keys, func(k string, e driver.Entry) {
			*delivered = true
			fn(k, e)
		})
	}))
}

func (s *Store) getManyOnce(ctx context.Context, keys []string, fn func(string, driver.Entry)) error {
	if s.d.name == "postgres" {
		ks := make([][]byte, len(keys))
		for i, k := range keys {
			ks[i] = []byte(k)
		}
		st, err := s.stmt(ctx, s.d.pgGetMany())
		if err != nil {
			return err
		}
		return queryRows(ctx, st, fn, ks)
	}
	if len(keys) == 1 || (s.d.name == "mysql" && len(keys) <= maxRows) {
		return s.getMany(ctx, nil, keys, fn)
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.getMany(ctx, tx, keys, fn); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *Store) getMany(ctx context.Context, tx *sql.Tx, keys []string, fn func(string, driver.Entry)) error {
	bind := func(q string) (stmt, error) {
		if tx == nil {
			return s.stmt(ctx, q)
		}
		return s.txStmt(ctx, tx, q)
	}
	if s.d.name == "sqlite" {
		st, err := bind(s.d.get)
		if err != nil {
			return err
		}
		for _, k := range keys {
			e, ok, err := getOne(ctx, st, k)
			if err != nil {
				return err
			}
			if ok {
				fn(k, e)
			}
		}
		return nil
	}
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), maxRows)]
		keys = keys[len(chunk):]
		n := 1 << bits.Len(uint(len(chunk)-1))
		args := make([]any, n)
		for i := range n {
			args[i] = []byte(chunk[min(i, len(chunk)-1)])
		}
		st, err := bind(s.d.myGetMany(n))
		if err != nil {
			return err
		}
		if err := queryRows(ctx, st, fn, args...); err != nil {
			return err
		}
	}
	return nil
}

func queryRows(ctx context.Context, st stmt, fn func(string, driver.Entry), args ...any) error {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return eachRow(rows, func(k string, e driver.Entry) bool { fn(k, e); return true })
}

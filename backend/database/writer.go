package database

import (
	"bytes"
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"strings"

	"modernc.org/sqlite"

	"github.com/foxstore/foxstore/driver"
)

// writerConn is the connection on which a SQLite store on a file runs its
// own writes (Apply and Sweep). The store takes it from the pool when it
// opens and keeps it, so the pool never hands it to anyone else; the pool
// holds one connection more than max_open_conns for it. Only the holder of
// the writer slot uses it (Store.wc is read and written under the slot), so
// its statements are prepared on it once and kept, and a write runs on it
// as plain statements: a single upsert or delete on its own (autocommit:
// the statement is its transaction), a batch as BEGIN IMMEDIATE, its
// multi-row statements and COMMIT.
//
// This is what makes a single write cost what the bare statement costs. A
// database/sql transaction around it costs about as much again as the
// statement when no fsync hides it: database/sql starts a goroutine per
// transaction to watch its context, and the driver one more for each of
// BEGIN and COMMIT, which run under that context.
//
// The writer connection keeps the slot's lock order (a connection first,
// then the slot): it is held for good, so whoever holds the slot never
// waits for the pool. When it breaks, it is dropped, and the next write
// takes another from the pool before it takes the slot again.
type writerConn struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt // prepared on conn, by SQL text
}

// stmt returns the statement for query, prepared on the writer connection
// on first use.
func (w *writerConn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := w.stmts[query]; st != nil {
		return st, nil
	}
	st, err := w.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = st
	return st, nil
}

func (w *writerConn) binder(ctx context.Context) binder {
	return func(q string) (stmt, error) {
		st, err := w.stmt(ctx, q)
		if err != nil {
			return nil, err
		}
		return st, nil
	}
}

// close closes the writer connection's statements and gives the connection
// back to the pool, or, with discard, makes the pool close it.
func (w *writerConn) close(discard bool) {
	for _, st := range w.stmts {
		st.Close()
	}
	if discard {
		// A Raw function that returns ErrBadConn makes database/sql close
		// the connection instead of keeping it in the pool.
		w.conn.Raw(func(any) error { return sqldriver.ErrBadConn })
	}
	w.conn.Close()
}

// openWriter takes the writer connection from the pool when the store
// opens, before anyone else can use the store.
func (s *Store) openWriter(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	s.wc = &writerConn{conn: conn, stmts: map[string]*sql.Stmt{}}
	return nil
}

// lockWriterConn takes the writer slot and returns the writer connection
// and the function that gives the slot back.
func (s *Store) lockWriterConn(ctx context.Context) (*writerConn, func(), error) {
	release, err := s.lockWriter(ctx)
	if err != nil {
		return nil, nil, err
	}
	if s.closed.Load() {
		release()
		return nil, nil, errClosed
	}
	if s.wc != nil {
		return s.wc, release, nil
	}
	// The last writer connection broke and was dropped. Take another from
	// the pool without holding the slot, then take the slot again.
	release()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	if release, err = s.lockWriter(ctx); err != nil {
		conn.Close()
		return nil, nil, err
	}
	if s.closed.Load() {
		// Close ran meanwhile, and may already have closed the pool.
		release()
		conn.Close()
		return nil, nil, errClosed
	}
	if s.wc == nil {
		s.wc = &writerConn{conn: conn, stmts: map[string]*sql.Stmt{}}
	} else {
		conn.Close() // another write got there first
	}
	return s.wc, release, nil
}

// onWriter runs fn on the writer connection while holding the writer
// slot; with inTx, inside BEGIN IMMEDIATE ... COMMIT, otherwise as it is
// (one statement, its own transaction).
func (s *Store) onWriter(ctx context.Context, inTx bool, fn func(binder) error) error {
	w, release, err := s.lockWriterConn(ctx)
	if err != nil {
		return err
	}
	defer release()
	if inTx {
		err = s.writerTx(ctx, w, fn)
	} else {
		err = fn(w.binder(ctx))
	}
	if errors.Is(err, sqldriver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		s.dropWriter(w)
	}
	return err
}

// writerTx runs fn in a write transaction on the writer connection. BEGIN
// IMMEDIATE takes SQLite's write lock at once, waiting (bounded by ctx and
// busy_timeout) for another process that holds it. COMMIT runs whatever
// ctx does meanwhile: once it ran, the write must not be reported as
// failed, and it waits for no lock, the transaction already holds it.
// Whatever fails is rolled back.
func (s *Store) writerTx(ctx context.Context, w *writerConn, fn func(binder) error) error {
	_, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	if err == nil {
		err = fn(w.binder(ctx))
		if err == nil {
			if _, err = w.conn.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err == nil {
				return nil
			}
		}
	}
	s.rollbackWriter(ctx, w)
	return err
}

// rollbackWriter ends a failed write transaction on the writer connection.
// If the ROLLBACK fails for any other reason than that no transaction is
// left (SQLite rolls back on its own after some errors, and a BEGIN that
// failed began nothing), the connection is dropped: no later write may
// start inside a transaction left open.
func (s *Store) rollbackWriter(ctx context.Context, w *writerConn) {
	rctx, cancel := cleanupContext(ctx)
	defer cancel()
	_, err := w.conn.ExecContext(rctx, "ROLLBACK")
	var se *sqlite.Error
	if err != nil && !(errors.As(err, &se) && strings.Contains(se.Error(), "no transaction is active")) {
		s.dropWriter(w)
	}
}

// dropWriter closes the writer connection w, which broke, so that the next
// write takes another. The caller holds the writer slot.
func (s *Store) dropWriter(w *writerConn) {
	if s.wc != w {
		return
	}
	s.wc = nil
	w.close(true)
}

// closeWriter closes the writer connection when the store closes, after
// the write in progress, if any (it waits for the slot, at most as long as
// a write would).
func (s *Store) closeWriter() {
	release, err := s.lockWriter(context.Background())
	if err != nil {
		return
	}
	defer release()
	if w := s.wc; w != nil {
		s.wc = nil
		w.close(false)
	}
}

// sqliteApply runs ws on SQLite while holding the writer slot: on the
// writer connection, or, for an in-memory database (one connection, shared
// by every caller), in a transaction on a connection of the pool.
func (s *Store) sqliteApply(ctx context.Context, ws []driver.Write) error {
	if !s.ownWriter {
		return s.sqliteWrite(ctx, func(tx *sql.Tx) error { return s.write(ctx, s.txBinder(ctx, tx), ws) })
	}
	return s.onWriter(ctx, len(ws) > 1, func(bind binder) error { return s.write(ctx, bind, ws) })
}

// isBusySnapshot reports whether err is SQLite refusing to let a
// transaction write because something was committed since its snapshot
// (SQLITE_BUSY_SNAPSHOT).
func isBusySnapshot(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqliteBusySnapshot
}

const sqliteBusySnapshot = 517 // SQLITE_BUSY | 2<<8

// commitValidated commits a transaction that SQLite refused because
// something was committed since its snapshot (conflict, the error SQLite
// gave). SQLite cannot tell which rows changed, so it refuses a
// transaction whatever the keys; here the transaction commits if, and only
// if, nothing it read has changed: on the writer connection, under BEGIN
// IMMEDIATE (SQLite's write lock, no other write can come in between), it
// reads every key the transaction read again, compares value and deadline,
// and writes ws if all are as the transaction saw them. Then the
// transaction is the same as one that ran at once at this point:
// serializable, with conflicts only on the keys it read. Anything changed
// gives conflict back. The caller holds the writer slot, and has rolled
// the transaction back.
func (s *Store) commitValidated(ctx context.Context, reads map[string]readEntry, ws []driver.Write, conflict error) error {
	w := s.wc
	if w == nil {
		// It broke and was dropped; taking another needs the slot given
		// back first. Report the conflict: foxstore.Update tries again.
		return conflict
	}
	err := s.writerTx(ctx, w, func(bind binder) error {
		st, err := bind(s.d.get)
		if err != nil {
			return err
		}
		for k, r := range reads {
			e, ok, err := getOne(ctx, st, k)
			if err != nil {
				return err
			}
			if ok != r.ok || ok && (e.Expires != r.e.Expires || !bytes.Equal(e.Value.Bytes(), r.e.Value.Bytes())) {
				return conflict
			}
		}
		return s.write(ctx, bind, ws)
	})
	if errors.Is(err, sqldriver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		s.dropWriter(w)
	}
	return err
}

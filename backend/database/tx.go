package database

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/foxstore/foxstore/driver"
)

// Begin implements driver.Backend: a database transaction per driver.Tx.
//
//   - SQLite: a deferred transaction, which reads one snapshot (WAL) and
//     locks nothing until Commit. Commit takes this process's writer slot
//     and upgrades to a write transaction; SQLite refuses the upgrade
//     (SQLITE_BUSY_SNAPSHOT) if anything was committed since the snapshot
//     was taken. On a file the store then commits it on the writer
//     connection if no key it read has changed (commitValidated);
//     otherwise, and in memory, it becomes ErrStorageConflict. Open
//     transactions block nobody.
//   - PostgreSQL: SERIALIZABLE; a transaction that would break
//     serializability fails with 40001 (at a read, a write or the commit),
//     which becomes ErrStorageConflict.
//   - MySQL/MariaDB: REPEATABLE READ with locking reads (SELECT ... FOR
//     UPDATE), which lock the row, or the gap where an absent key would go,
//     until the end of the transaction: strict two-phase locking. Plain
//     reads outside transactions are consistent reads that take no lock and
//     wait for none. Deadlocks and lock wait timeouts become
//     ErrStorageConflict.
func (s *Store) Begin(ctx context.Context) (driver.Tx, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	var opts *sql.TxOptions
	switch s.d.name {
	case "postgres":
		opts = &sql.TxOptions{Isolation: sql.LevelSerializable}
	case "sqlite":
		// The DSN makes every BeginTx a BEGIN IMMEDIATE, except read-only
		// ones, which get a plain (deferred) BEGIN: that is the one we want.
		// Nothing stops the transaction from writing later.
		opts = &sql.TxOptions{ReadOnly: true}
	}
	stx, err := s.beginTx(ctx, opts)
	if err != nil {
		return nil, s.classify(ctx, err)
	}
	t := &tx{s: s, tx: stx, ctx: ctx}
	if s.ownWriter {
		t.reads = map[string]readEntry{}
	}
	return t, nil
}

// sqlTx is a database/sql transaction whose Rollback cannot hang.
//
// pgx's adapter rolls back under the ctx that BeginTx got, so a server that
// stopped answering could hold Rollback for as long as that ctx lives
// (forever, for context.Background). The transaction therefore runs under a
// ctx of its own, which Rollback cancels when the server has not answered
// within cleanupTimeout: pgx then closes the connection, which ends the
// transaction on the server too, and the pool drops it.
type sqlTx struct {
	*sql.Tx
	cancel context.CancelFunc
}

func (t *sqlTx) Commit() error {
	defer t.cancel()
	return t.Tx.Commit()
}

func (t *sqlTx) Rollback() error {
	defer t.cancel()
	timer := time.AfterFunc(cleanupTimeout, t.cancel)
	defer timer.Stop()
	return t.Tx.Rollback()
}

// beginTx starts a transaction on a connection of the pool.
//
// On PostgreSQL, a BEGIN that fails because its connection broke while it
// sat in the pool (the server restarted, something on the way cut it) is
// tried again: a failed BEGIN changed nothing, and pgx has closed the broken
// connection, which the pool drops when it next hands it out. Every pooled
// connection may be broken, so it tries at most once per connection the
// pool may hold, and once more on a new one. (database/sql does this on its
// own for a statement that could not be sent, which pgx's adapter reports
// as driver.ErrBadConn, but not for BEGIN.)
func (s *Store) beginTx(ctx context.Context, opts *sql.TxOptions) (*sqlTx, error) {
	for try := 0; ; try++ {
		tctx, cancel := context.WithCancel(ctx)
		stx, err := s.db.BeginTx(tctx, opts)
		if err == nil {
			return &sqlTx{Tx: stx, cancel: cancel}, nil
		}
		cancel()
		if try >= s.maxConns || !s.brokenBegin(ctx, err) {
			return nil, err
		}
	}
}

// brokenBegin reports whether err is a PostgreSQL BEGIN that failed with its
// connection, rather than because ctx ended, the server refused it, or no
// new connection could be made.
func (s *Store) brokenBegin(ctx context.Context, err error) bool {
	if s.d.name != "postgres" || ctx.Err() != nil || errors.Is(err, sql.ErrConnDone) {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// FATAL and PANIC end the session: the server is closing the
		// connection (an administrator's command, a restart).
		sev := cmp.Or(pe.SeverityUnlocalized, pe.Severity)
		return sev == "FATAL" || sev == "PANIC"
	}
	return true
}

type tx struct {
	s   *Store
	tx  *sqlTx
	ctx context.Context // Begin's

	mu   sync.Mutex // one statement at a time on the transaction's connection
	done bool       // guarded by mu
	// doomed is the conflict that aborted the transaction at a read
	// (PostgreSQL may detect a serialization failure there, MySQL a
	// deadlock); Commit reports it. Guarded by mu.
	doomed error
	// reads holds, on SQLite with a writer connection, what the
	// transaction read, by key, for commitValidated. Guarded by mu.
	reads map[string]readEntry
}

// readEntry is what a transaction read under a key.
type readEntry struct {
	e  driver.Entry
	ok bool
}

var errTxDone = driver.NewError(driver.CodeTxDone, "", "", nil)

func (t *tx) Get(ctx context.Context, key string) (driver.Entry, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return driver.Entry{}, false, errTxDone
	}
	if t.doomed != nil {
		return t.s.Get(ctx, key)
	}
	st, err := t.s.txStmt(ctx, t.tx.Tx, t.s.d.getLocked)
	if err != nil {
		return driver.Entry{}, false, t.s.classify(ctx, err)
	}
	e, ok, err := getOne(ctx, st, key)
	if err != nil && isConflict(err) && ctx.Err() == nil {
		// The database aborted the transaction. The contract reports a
		// lost race at Commit, so remember it, and answer this read and
		// the next ones with plain reads: nothing the transaction does
		// from here on will be applied.
		t.doomed = t.s.classify(ctx, err)
		return t.s.Get(ctx, key)
	}
	if err == nil && t.reads != nil {
		if _, seen := t.reads[key]; !seen {
			t.reads[key] = readEntry{e: e, ok: ok}
		}
	}
	return e, ok, t.s.classify(ctx, err)
}

func (t *tx) Commit(ctx context.Context, ws []driver.Write) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return errTxDone
	}
	t.done = true
	if t.doomed != nil {
		t.tx.Rollback()
		return t.doomed
	}
	if err := t.s.checkSizes(ws); err != nil {
		t.tx.Rollback()
		return err
	}
	defer t.s.notify.announce(ws)
	if len(ws) > 0 {
		release, err := t.s.lockWriter(ctx)
		if err != nil {
			t.tx.Rollback()
			return t.s.classify(ctx, err)
		}
		defer release()
		if err := t.s.write(ctx, t.s.txBinder(ctx, t.tx.Tx), ws); err != nil {
			t.tx.Rollback()
			if t.reads != nil && isBusySnapshot(err) && t.ctx.Err() == nil {
				err = t.s.commitValidated(ctx, t.reads, ws, err)
			}
			return t.s.classify(ctx, err)
		}
	}
	err := t.tx.Commit()
	if errors.Is(err, sql.ErrTxDone) && ctx.Err() != nil {
		// database/sql already rolled back for the ended context.
		err = ctx.Err()
	}
	return t.s.classify(ctx, err)
}

func (t *tx) Rollback() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil
	}
	t.done = true
	if err := t.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return t.s.redact(err)
	}
	return nil
}

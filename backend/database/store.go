package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foxstore/foxstore/driver"
)

func init() {
	driver.Register("database", driver.Driver{
		Open: func(ctx context.Context, cfg driver.Config) (driver.Backend, error) {
			return Open(ctx, cfg)
		},
		Import: "github.com/foxstore/foxstore/backend/database",
	})
}

// Store is the database backend: one table in SQLite, PostgreSQL or
// MySQL/MariaDB, reached through a database/sql pool.
type Store struct {
	db     *sql.DB
	d      *dialect
	table  string // unquoted, for messages
	log    *slog.Logger
	closed atomic.Bool

	secrets []string // never shown in an error

	// writer is SQLite's write slot: one write or transaction commit of
	// this process at a time holds it, queued here in Go (fair, and bounded
	// by ctx) rather than polling SQLite's lock. nil for servers.
	//
	// Lock order: a connection of the pool first, then the slot. Whoever
	// holds the slot already has the one connection it writes on and never
	// asks the pool for another (see lockWriter), so a pool emptied by
	// callers queued for the slot, or by open transactions, cannot stall
	// the writer that holds it.
	writer chan struct{}

	// ownWriter: SQLite on a file, whose writes run on a connection of
	// their own, wc, which only the holder of the writer slot reads,
	// writes and uses (see writerConn). An in-memory database has one
	// connection, shared, and writes in transactions on it.
	ownWriter bool
	wc        *writerConn

	// maxConns is the size of the pool (max_open_conns): for SQLite on a
	// file, the pool has one more, the writer connection.
	maxConns int

	// maxValue is the largest encoded value the server takes (MySQL's
	// max_allowed_packet); 0 when there is no lower limit than the front's.
	maxValue int

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt // prepared statements by SQL text; guarded by stmtMu

	// notify announces writes to other stores and hears theirs
	// (notify.go); nil but on PostgreSQL.
	notify *notifier
}

var (
	_ driver.Backend        = (*Store)(nil)
	_ driver.BatchGetter    = (*Store)(nil)
	_ driver.Sweeper        = (*Store)(nil)
	_ driver.HealthReporter = (*Store)(nil)
	_ driver.Watcher        = (*Store)(nil)
)

// Open connects to the database that cfg.Database names, creates or
// migrates the table, and returns the store.
func Open(ctx context.Context, cfg driver.Config) (*Store, error) {
	dc := cfg.Database
	if dc.Driver == "" {
		dc.Driver = "sqlite"
	}
	if dc.Table == "" {
		dc.Table = driver.DefaultTable
	}
	d, err := newDialect(dc.Driver, dc.Table)
	if err != nil {
		return nil, driver.NewError(driver.CodeInvalid, "", "", err)
	}
	log := cfg.Log()
	c, err := connect(dc, log)
	if err != nil {
		return nil, driver.NewError(driver.CodeInvalid, "", "", err)
	}
	s := &Store{db: c.db, d: d, table: dc.Table, log: log, secrets: c.secrets, stmts: map[string]*sql.Stmt{}}
	open := pool(c.db, dc)
	s.maxConns = open
	if dc.Driver == "sqlite" {
		s.writer = make(chan struct{}, 1)
		switch {
		case c.path != "":
			s.ownWriter = true
			c.db.SetMaxOpenConns(open + 1)
		case open > 1:
			// Every connection to ":memory:" is a database of its own.
			c.db.SetMaxOpenConns(1)
		}
	}
	if err := s.setup(ctx, cfg); err != nil {
		if s.wc != nil {
			s.wc.close(false)
		}
		c.db.Close()
		return nil, s.classify(ctx, err)
	}
	if c.pg != nil {
		s.notify = newNotifier(c.pg, dc.Table, log, s.redact)
	}
	return s, nil
}

func (s *Store) setup(ctx context.Context, cfg driver.Config) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect to %s: %w", s.d.name, err)
	}
	if s.d.name == "mysql" {
		var packet int64
		if err := s.db.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&packet); err != nil {
			return err
		}
		if packet < cfg.MaxValueSize {
			s.maxValue = int(packet)
			s.log.Warn("foxstore: the MySQL server's max_allowed_packet is below max_value_size: larger values are refused",
				"max_allowed_packet", packet, "max_value_size", cfg.MaxValueSize, "table", s.table)
		}
	}
	if err := s.migrate(ctx, s.table); err != nil {
		return err
	}
	if s.ownWriter {
		if err := s.openWriter(ctx); err != nil {
			return err
		}
	}
	// Prepare now what runs under SQLite's writer slot or inside a
	// transaction: preparing a statement for the first time takes a
	// connection of the pool, which a caller holding one must never wait
	// for. (The writer connection prepares its own statements.)
	for _, q := range s.d.prepare {
		if _, err := s.prepared(ctx, q); err != nil {
			return fmt.Errorf("prepare statements: %w", err)
		}
	}
	return nil
}

// stmt is one statement of the store, ready to run with its arguments.
//
// On SQLite and MySQL it is a *sql.Stmt: database/sql prepares it once per
// connection that runs it. On PostgreSQL it is the SQL text run on the pool
// or the transaction (sqlText): pgx prepares it the first time it runs on a
// connection and keeps it in that connection's statement cache, so the
// server parses it once per connection too, with no prepare round trip of
// its own and nothing for database/sql to deallocate when it drops a
// connection.
type stmt interface {
	ExecContext(ctx context.Context, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, args ...any) (*sql.Rows, error)
}

// runner is what runs SQL text: *sql.DB or *sql.Tx.
type runner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// sqlText is a PostgreSQL statement: its text, and where it runs.
type sqlText struct {
	on    runner
	query string
}

func (q sqlText) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return q.on.ExecContext(ctx, q.query, args...)
}

func (q sqlText) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	return q.on.QueryContext(ctx, q.query, args...)
}

// stmt returns the statement for query. On SQLite and MySQL it is prepared
// on first use and kept; database/sql prepares it again on each connection
// that needs it.
func (s *Store) stmt(ctx context.Context, query string) (stmt, error) {
	if s.d.name == "postgres" {
		if s.closed.Load() {
			return nil, errClosed
		}
		return sqlText{on: s.db, query: query}, nil
	}
	st, err := s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// prepared returns the prepared statement for query, preparing it on first
// use.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	st := s.stmts[query]
	s.stmtMu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if old := s.stmts[query]; old != nil {
		st.Close()
		return old, nil
	}
	if s.closed.Load() {
		st.Close()
		return nil, errClosed
	}
	s.stmts[query] = st
	return st, nil
}

// txStmt is stmt bound to tx. It runs on tx's connection only.
//
// On SQLite it never takes another connection of the pool: the statements
// were prepared when the store opened, and one that was not is prepared on
// tx's connection for this transaction alone. (A transaction, or a write
// holding the writer slot, that waited for a second connection could wait
// for ever on a pool that callers queued behind it have emptied.)
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, query string) (stmt, error) {
	switch s.d.name {
	case "postgres":
		return sqlText{on: tx, query: query}, nil
	case "sqlite":
		s.stmtMu.Lock()
		st := s.stmts[query]
		s.stmtMu.Unlock()
		if st == nil {
			return tx.PrepareContext(ctx, query)
		}
		return tx.StmtContext(ctx, st), nil
	}
	st, err := s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, st), nil
}

// sqliteWrite runs fn in a write transaction of its own (BEGIN IMMEDIATE)
// on SQLite, taking first a connection of the pool, then the writer slot,
// and then beginning on that connection: nothing here waits for the pool
// while holding the slot. Only in-memory databases write this way; on a
// file, writes run on the writer connection (onWriter).
func (s *Store) sqliteWrite(ctx context.Context, fn func(*sql.Tx) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	release, err := s.lockWriter(ctx)
	if err != nil {
		return err
	}
	defer release()
	tx, err := conn.BeginTx(ctx, nil) // the DSN's _txlock makes it BEGIN IMMEDIATE
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// lockWriter takes SQLite's write slot, waiting at most as long as SQLite
// would wait for a lock. It returns the function that gives it back.
//
// The caller must already hold the connection it will write on (a
// transaction's, the one sqliteWrite took, or the writer connection, which
// the store holds for good), and must not take another from the pool
// before it gives the slot back.
func (s *Store) lockWriter(ctx context.Context) (func(), error) {
	if s.writer == nil {
		return func() {}, nil
	}
	select {
	case s.writer <- struct{}{}:
	default:
		t := time.NewTimer(sqliteBusyTimeout)
		defer t.Stop()
		select {
		case s.writer <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			return nil, &lockTimeout{}
		}
	}
	var once sync.Once
	return func() { once.Do(func() { <-s.writer }) }, nil
}

// Get implements driver.Backend.
func (s *Store) Get(ctx context.Context, key string) (driver.Entry, bool, error) {
	if s.closed.Load() {
		return driver.Entry{}, false, errClosed
	}
	var (
		e  driver.Entry
		ok bool
	)
	err := s.readAgain(ctx, func(*bool) error {
		st, err := s.stmt(ctx, s.d.get)
		if err != nil {
			return err
		}
		e, ok, err = getOne(ctx, st, key)
		return err
	})
	return e, ok, s.classify(ctx, err)
}

func getOne(ctx context.Context, st stmt, key string) (driver.Entry, bool, error) {
	rows, err := st.QueryContext(ctx, []byte(key))
	if err != nil {
		return driver.Entry{}, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return driver.Entry{}, false, rows.Err()
	}
	var (
		v   sql.RawBytes
		exp int64
	)
	if err := rows.Scan(&v, &exp); err != nil {
		return driver.Entry{}, false, err
	}
	val, err := driver.ParseValue(v)
	if err != nil {
		return driver.Entry{}, false, err
	}
	return driver.Entry{Value: val, Expires: exp}, true, rows.Close()
}

// Scan implements driver.Backend: one statement over the primary key's
// range, read row by row.
func (s *Store) Scan(ctx context.Context, start, end string, fn func(string, driver.Entry) bool) error {
	if s.closed.Load() {
		return errClosed
	}
	query, args := s.d.scan, []any{[]byte(start), []byte(end)}
	if end == "" {
		query, args = s.d.scanFrom, args[:1]
	}
	err := s.readAgain(ctx, func(delivered *bool) error {
		st, err := s.stmt(ctx, query)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return eachRow(rows, func(k string, e driver.Entry) bool {
			*delivered = true
			return fn(k, e)
		})
	})
	return s.classify(ctx, err)
}

// eachRow reads (k, v, exp) rows until fn returns false.
func eachRow(rows *sql.Rows, fn func(string, driver.Entry) bool) error {
	var (
		k, v sql.RawBytes
		exp  int64
	)
	for rows.Next() {
		if err := rows.Scan(&k, &v, &exp); err != nil {
			return err
		}
		val, err := driver.ParseValue(v)
		if err != nil {
			return err
		}
		if !fn(string(k), driver.Entry{Value: val, Expires: exp}) {
			return rows.Close()
		}
	}
	return rows.Err()
}

// Sweep implements driver.Sweeper: it deletes at most limit expired rows,
// found through the expiry index, in one short statement.
func (s *Store) Sweep(ctx context.Context, nowMs int64, limit int) (int, bool, error) {
	if s.closed.Load() {
		return 0, false, errClosed
	}
	var n int64
	sweep := func(st stmt) error {
		res, err := st.ExecContext(ctx, nowMs, limit)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	}
	err := retryConflicts(ctx, func() error {
		if s.ownWriter {
			return s.onWriter(ctx, false, func(bind binder) error {
				st, err := bind(s.d.sweep)
				if err != nil {
					return err
				}
				return sweep(st)
			})
		}
		if s.writer != nil {
			return s.sqliteWrite(ctx, func(tx *sql.Tx) error {
				st, err := s.txStmt(ctx, tx, s.d.sweep)
				if err != nil {
					return err
				}
				return sweep(st)
			})
		}
		st, err := s.stmt(ctx, s.d.sweep)
		if err != nil {
			return err
		}
		return sweep(st)
	})
	if err != nil {
		return 0, false, s.classify(ctx, err)
	}
	return int(n), int(n) >= limit, nil
}

// Health implements driver.HealthReporter with the pool's figures.
func (s *Store) Health(ctx context.Context) (map[string]any, error) {
	st := s.db.Stats()
	details := map[string]any{
		"driver":               s.d.name,
		"table":                s.table,
		"open_connections":     st.OpenConnections,
		"in_use":               st.InUse,
		"idle":                 st.Idle,
		"max_open":             st.MaxOpenConnections,
		"wait_count":           st.WaitCount,
		"wait_duration":        st.WaitDuration.String(),
		"max_idle_closed":      st.MaxIdleClosed,
		"max_idle_time_closed": st.MaxIdleTimeClosed,
		"max_lifetime_closed":  st.MaxLifetimeClosed,
	}
	if s.closed.Load() {
		return details, errClosed
	}
	if err := s.db.PingContext(ctx); err != nil {
		return details, s.classify(ctx, err)
	}
	return details, nil
}

// Close implements driver.Backend: it closes the prepared statements and
// the pool. Writes are durable when they return, so there is nothing to
// flush.
func (s *Store) Close(context.Context) error {
	if s.closed.Swap(true) {
		return nil
	}
	s.notify.close()
	if s.ownWriter {
		s.closeWriter()
	}
	s.stmtMu.Lock()
	for q, st := range s.stmts {
		st.Close()
		delete(s.stmts, q)
	}
	s.stmtMu.Unlock()
	if err := s.db.Close(); err != nil && !errors.Is(err, sql.ErrConnDone) {
		return s.redact(err)
	}
	return nil
}

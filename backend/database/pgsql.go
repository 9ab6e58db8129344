package database

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	fox "github.com/foxstore/foxstore/driver"
)

type storeWrite = fox.Write

// A minimal database/sql driver over one pgx connection.
//
// pgx's own adapter, github.com/jackc/pgx/v5/stdlib, imports pgxpool and
// with it github.com/jackc/puddle/v2, which the module's go.sum does not
// list; this adapter needs only the pgx package. It does what the store
// needs: statements (pgx prepares and caches them per connection, so a
// statement is parsed once per connection), transactions with isolation and
// read-only options, and arguments passed to pgx as they are (so [][]byte
// binds as bytea[]).

type pgConnector struct{ cfg *pgx.ConnConfig }

func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, c.cfg)
	if err != nil {
		return nil, err
	}
	return &pgConn{conn: conn, lastUsed: time.Now()}, nil
}

func (c pgConnector) Driver() driver.Driver { return pgDriver{} }

type pgDriver struct{}

func (pgDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("foxstore: the PostgreSQL adapter opens connections through its connector only")
}

type pgConn struct {
	conn     *pgx.Conn
	lastUsed time.Time // when ResetSession last passed
}

var (
	_ driver.ConnPrepareContext = (*pgConn)(nil)
	_ driver.ConnBeginTx        = (*pgConn)(nil)
	_ driver.ExecerContext      = (*pgConn)(nil)
	_ driver.QueryerContext     = (*pgConn)(nil)
	_ driver.Pinger             = (*pgConn)(nil)
	_ driver.SessionResetter    = (*pgConn)(nil)
	_ driver.Validator          = (*pgConn)(nil)
	_ driver.NamedValueChecker  = (*pgConn)(nil)
)

func (c *pgConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext defers to pgx's statement cache: the statement is prepared
// on the server when it first runs on this connection.
func (c *pgConn) PrepareContext(_ context.Context, query string) (driver.Stmt, error) {
	if c.conn.IsClosed() {
		return nil, driver.ErrBadConn
	}
	return &pgStmt{c: c, query: query}, nil
}

type pgStmt struct {
	c     *pgConn
	query string
}

var (
	_ driver.StmtExecContext   = (*pgStmt)(nil)
	_ driver.StmtQueryContext  = (*pgStmt)(nil)
	_ driver.NamedValueChecker = (*pgStmt)(nil)
)

func (s *pgStmt) Close() error  { return nil }
func (s *pgStmt) NumInput() int { return -1 }

func (s *pgStmt) Exec([]driver.Value) (driver.Result, error) {
	return nil, errors.New("foxstore: use ExecContext")
}

func (s *pgStmt) Query([]driver.Value) (driver.Rows, error) {
	return nil, errors.New("foxstore: use QueryContext")
}

func (s *pgStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.ExecContext(ctx, s.query, args)
}

func (s *pgStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.QueryContext(ctx, s.query, args)
}

func (s *pgStmt) CheckNamedValue(*driver.NamedValue) error { return nil }

func (c *pgConn) Close() error { return c.conn.Close(context.Background()) }

func (c *pgConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.conn.IsClosed() {
		return nil, driver.ErrBadConn
	}
	var o pgx.TxOptions
	switch opts.Isolation {
	case driver.IsolationLevel(0):
	case driver.IsolationLevel(4): // sql.LevelRepeatableRead
		o.IsoLevel = pgx.RepeatableRead
	case driver.IsolationLevel(6): // sql.LevelSerializable
		o.IsoLevel = pgx.Serializable
	default:
		return nil, errors.New("foxstore: unsupported isolation level")
	}
	if opts.ReadOnly {
		o.AccessMode = pgx.ReadOnly
	}
	tx, err := c.conn.BeginTx(ctx, o)
	if err != nil {
		if c.conn.IsClosed() && ctx.Err() == nil {
			// A BEGIN that failed has no effect: another connection may
			// try it again. (pgx closes the connection when it breaks.)
			return nil, driver.ErrBadConn
		}
		return nil, badConn(err)
	}
	return &pgTx{tx: tx, ctx: ctx}, nil
}

func (c *pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.conn.IsClosed() {
		return nil, driver.ErrBadConn
	}
	tag, err := c.conn.Exec(ctx, query, values(args)...)
	if err != nil {
		return nil, badConn(err)
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

func (c *pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.conn.IsClosed() {
		return nil, driver.ErrBadConn
	}
	rows, err := c.conn.Query(ctx, query, values(args)...)
	if err != nil {
		return nil, badConn(err)
	}
	return &pgRows{rows: rows}, nil
}

func (c *pgConn) Ping(ctx context.Context) error {
	if c.conn.IsClosed() {
		return driver.ErrBadConn
	}
	return c.conn.Ping(ctx)
}

// ResetSession runs before a pooled connection is reused. A connection
// that sat idle for a while is pinged first: a server that went away (or a
// proxy that cut the line) leaves connections that look fine until used.
func (c *pgConn) ResetSession(ctx context.Context) error {
	if c.conn.IsClosed() || c.conn.PgConn().TxStatus() != 'I' {
		return driver.ErrBadConn
	}
	now := time.Now()
	if now.Sub(c.lastUsed) > time.Second {
		if err := c.conn.PgConn().Ping(ctx); err != nil {
			return driver.ErrBadConn
		}
	}
	c.lastUsed = now
	return nil
}

// badConn tells database/sql to retry on another connection when the
// statement never left this one (pgx knows: SafeToRetry).
func badConn(err error) error {
	if pgconn.SafeToRetry(err) {
		return driver.ErrBadConn
	}
	return err
}

func (c *pgConn) IsValid() bool { return !c.conn.IsClosed() }

// CheckNamedValue lets every argument through to pgx, which knows how to
// encode slices as arrays.
func (c *pgConn) CheckNamedValue(*driver.NamedValue) error { return nil }

func values(args []driver.NamedValue) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}

type pgTx struct {
	tx  pgx.Tx
	ctx context.Context // BeginTx's: it bounds the commit as it bounds the transaction
}

func (t *pgTx) Commit() error { return t.tx.Commit(t.ctx) }

// Rollback must run even when the transaction's ctx has ended, but not
// forever on a server that stopped answering.
func (t *pgTx) Rollback() error {
	ctx, cancel := cleanupContext(t.ctx)
	defer cancel()
	return t.tx.Rollback(ctx)
}

type pgRows struct {
	rows pgx.Rows
}

func (r *pgRows) Columns() []string {
	fds := r.rows.FieldDescriptions()
	out := make([]string, len(fds))
	for i, fd := range fds {
		out[i] = fd.Name
	}
	return out
}

func (r *pgRows) Close() error {
	r.rows.Close()
	return r.rows.Err()
}

// OIDs of the types the store reads in binary form.
const (
	oidBytea = 17
	oidInt8  = 20
)

func (r *pgRows) Next(dest []driver.Value) error {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	fds := r.rows.FieldDescriptions()
	raw := r.rows.RawValues()
	var vals []any
	for i := range dest {
		b := raw[i]
		switch {
		case b == nil:
			dest[i] = nil
		case fds[i].Format == pgx.BinaryFormatCode && fds[i].DataTypeOID == oidBytea:
			// Valid until the next row, as database/sql expects.
			dest[i] = b
		case fds[i].Format == pgx.BinaryFormatCode && fds[i].DataTypeOID == oidInt8 && len(b) == 8:
			dest[i] = int64(binary.BigEndian.Uint64(b))
		default:
			if vals == nil {
				var err error
				if vals, err = r.rows.Values(); err != nil {
					return err
				}
			}
			dest[i] = driverValue(vals[i])
		}
	}
	return nil
}

// driverValue turns what pgx decoded into one of database/sql's value types.
func driverValue(x any) driver.Value {
	switch v := x.(type) {
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case float32:
		return float64(v)
	}
	if v, err := driver.DefaultParameterConverter.ConvertValue(x); err == nil {
		return v
	}
	return x
}

// pgApplyOne runs one write as a SERIALIZABLE transaction in one round
// trip: BEGIN, the statement and COMMIT sent as one pipelined batch.
func (s *Store) pgApplyOne(ctx context.Context, w storeWrite) error {
	for try := 0; ; try++ {
		err := s.pgApplyOnce(ctx, w)
		if !errors.Is(err, driver.ErrBadConn) || try == 2 {
			return err
		}
	}
}

func (s *Store) pgApplyOnce(ctx context.Context, w storeWrite) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c := dc.(*pgConn)
		if c.conn.IsClosed() {
			return driver.ErrBadConn
		}
		b := &pgx.Batch{}
		b.Queue("BEGIN ISOLATION LEVEL SERIALIZABLE")
		if w.Delete {
			b.Queue(s.d.del, []byte(w.Key))
		} else {
			b.Queue(s.d.put, []byte(w.Key), w.Entry.Value.Bytes(), w.Entry.Expires)
		}
		b.Queue("COMMIT")
		err := c.conn.SendBatch(ctx, b).Close()
		if pgconn.SafeToRetry(err) {
			return driver.ErrBadConn // nothing was sent; the caller tries another connection
		}
		if err != nil && !c.conn.IsClosed() && c.conn.PgConn().TxStatus() != 'I' {
			// The statement failed: the COMMIT after it was skipped and the
			// transaction is aborted. End it, so the connection can be reused.
			rctx, cancel := cleanupContext(ctx)
			defer cancel()
			if _, rerr := c.conn.Exec(rctx, "ROLLBACK"); rerr != nil {
				c.conn.Close(context.Background())
			}
		}
		return err
	})
}

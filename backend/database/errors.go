package database

import (
	"context"
	"errors"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/foxstore/foxstore/driver"
)

var errClosed = driver.NewError(driver.CodeClosed, "", "", errors.New("database backend is closed"))

// classify turns a driver error into what the front expects: a coded
// ErrStorageConflict for errors that mean "retry the transaction", a coded
// ErrStorageInvalid for requests the server can never serve, and a plain
// error (which the front codes as a read or write failure) for the rest.
// Messages never carry the DSN or the password, and an error caused by the
// end of ctx matches ctx.Err() with errors.Is.
func (s *Store) classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var fe *driver.Error
	if errors.As(err, &fe) {
		return err
	}
	err = s.redact(err)
	if ce := ctx.Err(); ce != nil && !errors.Is(err, ce) {
		err = &ctxError{ctx: ce, err: err}
	}
	switch {
	case isConflict(err):
		return driver.NewError(driver.CodeConflict, "", "", err)
	case isTooBig(err):
		return driver.NewError(driver.CodeInvalid, "", "", err)
	}
	return err
}

// ctxError reports a driver error that happened because ctx ended: it
// prints the driver's message and matches both the context error and the
// driver error.
type ctxError struct {
	ctx error
	err error
}

func (e *ctxError) Error() string   { return e.ctx.Error() + ": " + e.err.Error() }
func (e *ctxError) Unwrap() []error { return []error{e.ctx, e.err} }

// isConflict reports the errors after which a transaction should be
// retried: serialization failures and deadlocks (PostgreSQL), deadlocks and
// lock wait timeouts (MySQL/MariaDB), busy and locked databases (SQLite).
func isConflict(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", // serialization_failure
			"40P01", // deadlock_detected
			"55P03": // lock_not_available
			return true
		}
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1205, // ER_LOCK_WAIT_TIMEOUT
			1213, // ER_LOCK_DEADLOCK
			1020: // ER_CHECKREAD: MariaDB's snapshot isolation saw a changed row
			return true
		}
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 5, // SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT
			6: // SQLITE_LOCKED
			return true
		}
	}
	var le *lockTimeout
	return errors.As(err, &le)
}

// isTooBig reports a row the server refuses for its size whatever we retry:
// a PostgreSQL index row over the btree limit (a stored key of more than
// about 2,700 bytes that does not compress).
func isTooBig(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "54000"
}

// lockTimeout is the error of a write that waited too long for this
// process's SQLite writer slot.
type lockTimeout struct{}

func (*lockTimeout) Error() string {
	return "database is locked: another write or transaction of this process held it too long"
}

// redact removes the DSN and the password from err's message. When it had
// to change the message, the result no longer wraps err (whose own message
// would show them again), except for the context error it may carry.
func (s *Store) redact(err error) error {
	msg := err.Error()
	clean := msg
	for _, sec := range s.secrets {
		clean = strings.ReplaceAll(clean, sec, "xxxxx")
	}
	if clean == msg {
		return err
	}
	out := errors.New(clean)
	switch {
	case errors.Is(err, context.Canceled):
		return &ctxError{ctx: context.Canceled, err: out}
	case errors.Is(err, context.DeadlineExceeded):
		return &ctxError{ctx: context.DeadlineExceeded, err: out}
	}
	return out
}

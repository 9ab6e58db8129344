package database

import (
	"context"
	sqldriver "database/sql/driver"
	"errors"
	"io"
	"net"

	"github.com/go-sql-driver/mysql"
)

// readAgain runs read, which only reads, and runs it again, on another
// connection, when it failed because the pooled connection it got was
// already dead. A network cut kills every idle connection of the pool at
// once, and database/sql replaces only those a driver reports as bad before
// it sends anything; pgx finds out when its write or read fails, and then
// closes the connection, so the pool drops it; the MySQL driver checks an
// idle connection before it uses it, which narrows the window but does not
// close it. Without this, each idle
// connection the cut killed would fail one read after the network is whole
// again. read reports through delivered whether it has handed rows to its
// caller, after which a retry would hand them twice: then its error stands.
// The tries are bounded by the pool's idle connections, plus one for a new
// connection; a server that is down fails each of them at once.
func (s *Store) readAgain(ctx context.Context, read func(delivered *bool) error) error {
	var delivered bool
	err := read(&delivered)
	for tries := s.db.Stats().Idle + 1; err != nil && tries > 0 && !delivered && ctx.Err() == nil && lostConn(err); tries-- {
		err = read(&delivered)
	}
	return err
}

// lostConn reports an error that says the connection broke under the
// statement, rather than the statement failing. The MySQL driver checks an
// idle connection before it uses it, but a cut whose reset arrives after
// that check fails the statement with mysql.ErrInvalidConn (a CI run saw
// it in TestMySQLReadsAfterCut), after the driver has closed the connection.
func lostConn(err error) bool {
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, sqldriver.ErrBadConn) ||
		errors.Is(err, mysql.ErrInvalidConn) || errors.As(err, &ne)
}

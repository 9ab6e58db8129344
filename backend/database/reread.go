package database

import (
	"context"
	sqldriver "database/sql/driver"
	"errors"
	"io"
	"net"
	"time"

	"github.com/go-sql-driver/mysql"
)

// readAgain runs read, which only reads, and runs it again, on another
// connection, when it failed because the pooled connection it got was
// already dead. A network cut kills every idle connection of the pool at
// once, and database/sql replaces only those a driver reports as bad before
// it sends anything; pgx finds out when its write or read fails, and then
// closes the connection, so the pool drops it; the MySQL driver checks an
// idle connection before it uses it, which narrows the window but does not
// close it. Without this, each idle connection the cut killed would fail
// one read after the network is whole again. read reports through
// delivered whether it has handed rows to its caller, after which a retry
// would hand them twice: then its error stands. The tries are bounded by
// the pool's idle connections, plus one for a new connection, and only a
// read that failed at once is tried again (see deadConn), so a server that
// is down, stalled or unreachable costs no more than one try's wait.
func (s *Store) readAgain(ctx context.Context, read func(delivered *bool) error) error {
	var delivered bool
	for tries := s.db.Stats().Idle + 1; ; tries-- {
		start := time.Now()
		err := read(&delivered)
		if err == nil || tries == 0 || delivered || ctx.Err() != nil || !deadConn(err, time.Since(start)) {
			return err
		}
	}
}

// deadConnFailsWithin is how soon a statement on a connection that was
// already dead fails: the reset is waiting for it, so its write or its
// first read fails in microseconds (milliseconds on a loaded machine). A
// read that failed later than this timed out or stalled, and trying it
// again would only wait again (90 s each: the MySQL driver's read timeout,
// which it reports as the same mysql.ErrInvalidConn as a reset).
const deadConnFailsWithin = time.Second

// deadConn reports whether a read that failed with err after took failed
// because its pooled connection was already dead.
func deadConn(err error, took time.Duration) bool {
	return took < deadConnFailsWithin && lostConn(err)
}

// lostConn reports an error that says the connection broke under the
// statement, rather than the statement failing or timing out. The MySQL
// driver checks an idle connection before it uses it, but a cut whose reset
// arrives after that check fails the statement with mysql.ErrInvalidConn (a
// CI run saw it in TestMySQLReadsAfterCut), after the driver has closed the
// connection.
func lostConn(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return !ne.Timeout()
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, sqldriver.ErrBadConn) ||
		errors.Is(err, mysql.ErrInvalidConn)
}

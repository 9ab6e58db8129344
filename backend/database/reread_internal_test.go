package database

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// TestLostConn: the errors that say a connection broke under a read are
// told apart from those of a statement that failed or timed out, wrapped or
// not; and only a read that failed at once counts as one on a dead
// connection (the MySQL driver reports its read timeout as ErrInvalidConn).
func TestLostConn(t *testing.T) {
	lost := []error{
		io.ErrUnexpectedEOF,
		sqldriver.ErrBadConn,
		mysql.ErrInvalidConn,
		&net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")},
	}
	kept := []error{
		sql.ErrNoRows,
		context.Canceled,
		context.DeadlineExceeded,
		os.ErrDeadlineExceeded,
		&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded},
		&mysql.MySQLError{Number: 1146, Message: "Table 'test.x' doesn't exist"},
		errors.New("syntax error"),
	}
	for _, err := range lost {
		for _, e := range []error{err, fmt.Errorf("get: %w", err)} {
			if !lostConn(e) {
				t.Errorf("lostConn(%v) = false, want true", e)
			}
		}
	}
	for _, err := range kept {
		if lostConn(err) {
			t.Errorf("lostConn(%v) = true, want false", err)
		}
	}
	if !deadConn(mysql.ErrInvalidConn, time.Millisecond) {
		t.Error("a read that failed at once with ErrInvalidConn does not count as on a dead connection")
	}
	if deadConn(mysql.ErrInvalidConn, deadConnFailsWithin) {
		t.Error("a read that failed after a second counts as on a dead connection")
	}
}

package database

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// TestLostConn: the errors that say a connection broke under a read are
// told apart from those of a statement that failed on a live connection,
// wrapped or not.
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
}

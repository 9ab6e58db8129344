package torture_test

import (
	"testing"

	"github.com/foxstore/foxstore/torture"
)

// TestSQLite runs 3 clients, not 8: with more clients than the pool has
// connections, SQLite stalls for 5 s at a time (TestBug_SQLiteWriterSlotWaitsForPool).
func TestSQLite(t *testing.T) { workloads(t, newSQLite, torture.Options{Clients: 3}) }

func TestPostgres(t *testing.T) {
	serverEnv(t, envPostgres, "a PostgreSQL DSN")
	workloads(t, newPostgres, torture.Options{})
}

func TestMySQL(t *testing.T) {
	serverEnv(t, envMySQL, "a MySQL/MariaDB DSN")
	workloads(t, newMySQL, torture.Options{})
}

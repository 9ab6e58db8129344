package torture_test

import (
	"testing"

	"github.com/foxstore/foxstore/torture"
)

func TestSQLite(t *testing.T) { workloads(t, newSQLite, torture.Options{}) }

func TestPostgres(t *testing.T) {
	serverEnv(t, envPostgres, "a PostgreSQL DSN")
	workloads(t, newPostgres, torture.Options{})
}

func TestMySQL(t *testing.T) {
	serverEnv(t, envMySQL, "a MySQL/MariaDB DSN")
	workloads(t, newMySQL, torture.Options{})
}

package database

import (
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"

	"github.com/foxstore/foxstore/driver"
)

// dialTimeout bounds connecting to a server when the DSN sets no timeout
// of its own, so that a server that does not answer cannot hang a call
// whose ctx has no deadline while it connects.
const dialTimeout = 10 * time.Second

// mysqlIOTimeout bounds one read or write on a MySQL connection when the
// DSN sets no readTimeout or writeTimeout.
const mysqlIOTimeout = 90 * time.Second

// sqliteBusyTimeout is how long SQLite waits for a lock held by another
// process (and, through the writer slot, by another write of this one).
const sqliteBusyTimeout = 5 * time.Second

// connection is an opened but not yet checked pool with what the store
// needs to know about how it was made.
type connection struct {
	db      *sql.DB
	secrets []string // strings that must never appear in an error
	path    string   // sqlite: the database file, "" for an in-memory one
	// pg is PostgreSQL's connection settings, for the notification
	// connection the store opens besides the pool (notify.go).
	pg *pgx.ConnConfig
}

// OpenSQL opens a database/sql pool on the database driverName ("sqlite",
// "postgres" or "mysql") and dsn names, with the drivers and connection
// settings a Store uses. It is meant for tools and benchmarks that need to
// reach the same database directly.
func OpenSQL(driverName, dsn string) (*sql.DB, error) {
	c, err := connect(driver.DatabaseConfig{Driver: driverName, DSN: dsn}, slog.Default())
	if err != nil {
		return nil, err
	}
	return c.db, nil
}

// connect builds the pool for cfg without contacting the server.
func connect(cfg driver.DatabaseConfig, log *slog.Logger) (*connection, error) {
	switch cfg.Driver {
	case "sqlite":
		return connectSQLite(cfg.DSN)
	case "postgres":
		return connectPostgres(cfg.DSN)
	case "mysql":
		return connectMySQL(cfg.DSN, log)
	}
	return nil, fmt.Errorf("unknown database driver %q (want sqlite, postgres or mysql)", cfg.Driver)
}

func connectPostgres(dsn string) (*connection, error) {
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors hide the password, but may show the rest of
		// the DSN: say only what is wrong.
		return nil, errors.New("database.dsn is not a valid PostgreSQL connection string")
	}
	if pc.ConnectTimeout == 0 {
		pc.ConnectTimeout = dialTimeout
	}
	if _, ok := pc.RuntimeParams["application_name"]; !ok {
		pc.RuntimeParams["application_name"] = "foxstore"
	}
	return &connection{
		db:      stdlib.OpenDB(*pc),
		secrets: secretsOf(dsn, pc.Password),
		pg:      pc,
	}, nil
}

func connectMySQL(dsn string, log *slog.Logger) (*connection, error) {
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, errors.New("database.dsn is not a valid MySQL DSN (user:password@tcp(host:port)/dbname)")
	}
	if mc.Timeout == 0 {
		mc.Timeout = dialTimeout
	}
	// The driver ends a read or write when ctx ends, except in Commit and
	// Rollback, which take no ctx: these bounds keep a server that stopped
	// answering from holding them forever. They exceed InnoDB's default
	// lock wait (50 s), which a locking read may legitimately spend.
	if mc.ReadTimeout == 0 {
		mc.ReadTimeout = mysqlIOTimeout
	}
	if mc.WriteTimeout == 0 {
		mc.WriteTimeout = mysqlIOTimeout
	}
	if !strings.Contains(dsn, "maxAllowedPacket=") {
		// 0 makes the driver use the server's max_allowed_packet, and
		// send larger parameters as long data, in pieces the server takes.
		mc.MaxAllowedPacket = 0
	}
	// The driver logs broken connections on its own; those are reported
	// to the caller as errors already, so keep them out of the way.
	mc.Logger = mysqlLogger{log}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, errors.New("database.dsn: " + err.Error())
	}
	return &connection{
		db:      sql.OpenDB(conn),
		secrets: secretsOf(dsn, mc.Passwd),
	}, nil
}

type mysqlLogger struct{ log *slog.Logger }

func (l mysqlLogger) Print(v ...any) {
	l.log.Debug("foxstore: mysql driver: " + strings.TrimSpace(fmt.Sprint(v...)))
}

// secretsOf lists the strings to redact from errors: the whole DSN and the
// password in the forms a driver could echo it.
func secretsOf(dsn, password string) []string {
	var out []string
	if dsn != "" {
		out = append(out, dsn)
	}
	if password != "" {
		out = append(out, password, url.QueryEscape(password), url.PathEscape(password))
	}
	return out
}

// connectSQLite opens the SQLite database file named by dsn (a path or a
// file: URI; empty for the default file in the user data directory). The
// DSN gains the settings the store relies on unless it sets them itself:
// WAL journal (readers never wait for the writer), synchronous=FULL
// (a commit is on disk when it returns), a busy timeout, and
// _txlock=immediate, which it always gets (a transaction takes the write
// lock when it begins, so transactions run one at a time and never fail
// half way through for a lock).
func connectSQLite(dsn string) (*connection, error) {
	if dsn == "" {
		dir, err := userDataDir()
		if err != nil {
			return nil, err
		}
		dsn = filepath.Join(dir, "foxstore", "storage.db")
	}
	base, query, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("database.dsn: bad query string: %w", err)
	}
	pragmas := strings.ToLower(strings.Join(q["_pragma"], " "))
	has := func(name string, aliases ...string) bool {
		for _, a := range append(aliases, name) {
			if q.Has(a) {
				return true
			}
		}
		return strings.Contains(pragmas, name)
	}
	if !has("busy_timeout", "_busy_timeout", "_timeout") {
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()))
	}
	if !has("journal_mode", "_journal_mode", "_journal") {
		q.Add("_pragma", "journal_mode(WAL)")
	}
	if !has("synchronous", "_synchronous", "_sync") {
		q.Add("_pragma", "synchronous(FULL)")
	}
	q.Set("_txlock", "immediate")

	path := sqlitePath(base, q)
	if path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
		// SQLite would create the file with mode 0644, and its -wal and
		// -shm files with the mode of the database file: create it 0600.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create database file: %w", err)
		}
		f.Close()
	}
	c, err := sqlite.NewConnector(base + "?" + q.Encode())
	if err != nil {
		return nil, fmt.Errorf("database.dsn: %w", err)
	}
	return &connection{db: sql.OpenDB(c), path: path}, nil
}

// sqlitePath returns the file a SQLite DSN names, or "" for an in-memory
// database.
func sqlitePath(base string, q url.Values) string {
	if base == "" || base == ":memory:" || q.Get("mode") == "memory" {
		return ""
	}
	if rest, ok := strings.CutPrefix(base, "file:"); ok {
		if strings.HasPrefix(rest, "//") {
			if u, err := url.Parse(base); err == nil {
				return u.Path
			}
		}
		if p, err := url.PathUnescape(rest); err == nil {
			rest = p
		}
		if rest == ":memory:" {
			return ""
		}
		return rest
	}
	return base
}

// userDataDir is where per-user application data lives: $XDG_DATA_HOME or
// ~/.local/share on Unix, ~/Library/Application Support on macOS,
// %LocalAppData% on Windows.
func userDataDir() (string, error) {
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return d, nil
		}
		return "", errors.New("%LocalAppData% is not set: set database.dsn")
	case "darwin", "ios":
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no home directory: set database.dsn: %w", err)
		}
		return filepath.Join(home, "Library", "Application Support"), nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory: set database.dsn: %w", err)
	}
	return filepath.Join(home, ".local", "share"), nil
}

// pool applies the pool settings of cfg, or defaults that suit the driver.
func pool(db *sql.DB, cfg driver.DatabaseConfig) (maxOpen int) {
	open, idle, life := cfg.MaxOpenConns, cfg.MaxIdleConns, cfg.ConnMaxLifetime
	if open == 0 {
		if cfg.Driver == "sqlite" {
			// Readers run in parallel (WAL); writers take turns anyway.
			open = max(4, runtime.GOMAXPROCS(0))
		} else {
			open = 20
		}
	}
	if idle == 0 {
		idle = open
	}
	if life == 0 && cfg.Driver != "sqlite" {
		// Recycle server connections now and then, so that a proxy or a
		// failover does not leave the pool talking to a stale server.
		life = 30 * time.Minute
	}
	db.SetMaxOpenConns(open)
	db.SetMaxIdleConns(min(idle, open))
	db.SetConnMaxLifetime(life)
	if cfg.Driver != "sqlite" {
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	return open
}

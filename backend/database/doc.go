// Package database is foxstore's SQL backend: one table in SQLite (embedded,
// the default), PostgreSQL or MySQL/MariaDB. Link it with a blank import and
// choose it with backend: database in the configuration:
//
//	import _ "github.com/foxstore/foxstore/backend/database"
//
// # Drivers
//
//   - sqlite: modernc.org/sqlite, a pure-Go translation of SQLite, so that
//     programs using foxstore (go-musicfox) keep cross-compiling with
//     CGO_ENABLED=0. It costs some speed against the cgo driver; see
//     BENCHMARKS.md. The default database is the file foxstore/storage.db in
//     the user data directory ($XDG_DATA_HOME or ~/.local/share, macOS
//     ~/Library/Application Support, Windows %LocalAppData%), created with
//     mode 0600 in a 0700 directory.
//   - postgres: github.com/jackc/pgx/v5, the most used and best maintained
//     PostgreSQL driver for Go, through its own database/sql adapter
//     (github.com/jackc/pgx/v5/stdlib, opened with stdlib.OpenDB on the
//     parsed configuration, so that the store can set a dial timeout and
//     application_name). The adapter gives the store database/sql's pool
//     and sql.DBStats, shared with the other two drivers, while pgx still
//     encodes []byte slices as bytea[] (for = ANY and unnest) and prepares
//     each statement once per connection, in its statement cache. Single
//     writes use the pgx connection underneath (sql.Conn.Raw) to pipeline
//     BEGIN, statement and COMMIT.
//   - mysql: github.com/go-sql-driver/mysql, for MySQL and MariaDB. The store
//     uses server-side prepared statements and lets the driver send large
//     values as long data, so values up to max_allowed_packet work.
//
// # Schema
//
// The data table (database.table, default foxstore_kv) has three columns:
// k, the stored key as bytes (BLOB, BYTEA, VARBINARY(3072)) and primary key,
// compared bytewise on every driver; v, the value in foxstore's binary form
// (driver.Value.Bytes, the encoding every backend shares); and exp, the
// deadline in Unix milliseconds, 0 for none, with an index on the rows that
// have one (partial on PostgreSQL and SQLite), which serves cleanup. SQLite
// tables are WITHOUT ROWID, so rows live in the key's b-tree.
//
// The table foxstore_meta records the schema version of each foxstore table
// in the database. Open creates the table on first use and migrates older
// versions forward, one step at a time, while holding a lock (a transaction
// with an advisory lock on PostgreSQL, BEGIN IMMEDIATE on SQLite, GET_LOCK on
// MySQL), so that stores opening at once take turns. A table whose version is
// newer than this code knows is refused. Table names are checked (letters,
// digits, _) and always quoted; keys, values and limits are always bound
// parameters.
//
// Table names that differ only in case name one table on SQLite, whose
// identifiers ignore case even when quoted, and on MySQL/MariaDB when table
// names follow a case-insensitive file system (lower_case_table_names 1 or
// 2, the defaults on Windows and macOS); on PostgreSQL, where the name is
// quoted and so kept as written, they are two tables (in psql, write
// "Songs" with its quotes). So that a configuration means the same
// everywhere and two stores never share a table by accident, Open refuses
// with ErrStorageInvalid a table name that differs only in case from one
// foxstore_meta already records in the same database, on every driver.
// Names are compared in Go, not by the database's collation (MySQL's
// default one ignores case). Two such names that were both recorded before
// this check existed keep opening, with a warning in the log: on SQLite
// they have always been one table.
//
// # Reads and writes
//
// Get is a point read on the primary key. Scan(start, end) is one statement,
// WHERE k >= start AND k < end ORDER BY k, served by the primary key's index
// and read row by row. GetMany is one statement: k = ANY($1) on PostgreSQL,
// an IN list padded to a power of two on MySQL (a few prepared statements
// serve every size), a prepared point read per key on SQLite, where there is
// no round trip to save. Apply runs a single write as one statement (on
// PostgreSQL inside a pipelined SERIALIZABLE transaction, below) and a batch
// as one transaction of multi-row upserts (INSERT ... ON CONFLICT DO UPDATE,
// ON DUPLICATE KEY UPDATE) and deletes: on PostgreSQL one statement each
// (unnest, = ANY), on SQLite and MySQL VALUES and IN lists of power-of-two
// sizes up to 256 rows (1,000 rows are 7 statements), prepared once per
// connection. On SQLite, Apply writes on the writer connection described
// below. Sweep deletes at most limit expired rows per call, found through
// the expiry index. Expired rows are returned to the front, which hides
// them.
//
// # The SQLite writer slot
//
// SQLite lets one connection write at a time. Rather than have writers of
// one process poll SQLite's lock, they queue in Go for a writer slot (a
// channel of one, fair and bounded by ctx; a write that waits more than the
// busy timeout, 5 s, fails with a conflict, which Apply and Sweep retry).
// The slot and the connection pool are two resources, so they are always
// taken in one order: a connection first, then the slot.
//
//   - Apply and Sweep write on the writer connection: a connection the
//     store takes from the pool when it opens and keeps, outside the pool
//     (the pool holds max_open_conns connections plus this one), which
//     only the holder of the slot uses. Its statements are prepared on it
//     once and kept. A single write, or a sweep, is one statement, which
//     SQLite runs as a transaction of its own; a batch is BEGIN IMMEDIATE,
//     its statements and COMMIT, run as plain statements on that
//     connection. A database/sql transaction would cost as much again as a
//     single upsert when no fsync hides it (goroutines that watch its
//     context: one in database/sql, one per BEGIN and COMMIT in the
//     driver). If the writer connection breaks, it is dropped, and the
//     next write takes another from the pool before it takes the slot.
//   - A transaction has its connection from Begin (a deferred transaction,
//     which reads one snapshot and locks nothing), and takes the slot only
//     at Commit, to write and commit on that same connection (or, when
//     SQLite refuses it for its snapshot, to check it and commit on the
//     writer connection: see below).
//   - Whoever holds the slot never asks the pool for another connection:
//     the statements a transaction runs are prepared when the store opens
//     (a first prepare takes a connection of the pool) and run on its own
//     connection, and Apply and Sweep need none but the writer connection.
//   - An in-memory database (":memory:") has a single connection, so it
//     has no writer connection: Apply and Sweep take that connection from
//     the pool, then the slot, and write in a transaction on it.
//
// So a write never holds the slot while it waits for the pool, and a pool
// emptied by open transactions cannot stall the write that holds it: the
// commit that holds the slot finishes, gives back the slot and its
// connection, and the queue moves on. Apply and Sweep do not wait for the
// pool at all. An open transaction holds a connection but not the slot, so
// it never blocks plain reads nor writes.
//
// # Transactions and isolation
//
// Every driver.Tx is a database transaction; Commit applies the buffered
// writes and commits.
//
//   - SQLite: a deferred transaction reads one WAL snapshot and locks
//     nothing; Commit takes the write lock and SQLite refuses it
//     (SQLITE_BUSY_SNAPSHOT) if anything was committed since the snapshot,
//     whatever the keys. The store then checks the transaction key by key:
//     on the writer connection, under BEGIN IMMEDIATE, it reads again every
//     key the transaction read, and commits its writes there if each holds
//     what the transaction saw (value and deadline, or absent), otherwise
//     the transaction fails with a conflict. So a transaction fails only
//     when a key it read changed meanwhile, and commits as if it had run
//     at its commit: serializable (an in-memory database, which has no
//     writer connection, keeps SQLite's rule). Writes of one process queue
//     in Go for the single writer slot (above), which Commit takes while
//     holding only the transaction's own connection; other processes are
//     waited for with busy_timeout (5 s). WAL lets readers through while a
//     write runs.
//   - PostgreSQL: SERIALIZABLE, for transactions and for Apply (a single
//     write is sent as BEGIN, statement, COMMIT in one pipelined round trip),
//     so that SSI sees every writer: a transaction that read a key, absent
//     keys included, cannot commit over a concurrent write of it.
//   - MySQL/MariaDB: REPEATABLE READ with locking reads (SELECT ... FOR
//     UPDATE), which lock the row or, for an absent key, the gap where it
//     would go, until the end of the transaction: strict two-phase locking.
//     A transaction may wait for another one's locks (bounded by ctx and
//     innodb_lock_wait_timeout). Plain reads are consistent non-locking reads
//     and never wait.
//
// Serialization failures and deadlocks (PostgreSQL 40001, 40P01), deadlocks
// and lock wait timeouts (MySQL 1213, 1205) and busy or locked SQLite
// databases become ErrStorageConflict, which foxstore.Update retries. Apply
// and Sweep only write, so they retry such conflicts themselves (for up to
// 30 s, bounded by ctx) instead of returning them.
//
// A network cut kills every idle connection in the pool at once. A read (Get,
// GetMany, Scan) that gets one of them, and so fails at once, runs again on
// another, at most once per idle connection plus one, as long as it has
// handed no row to its caller; a read that failed after a second (a timeout,
// a stalled server) is not run again. A write is not run again, since
// whether it reached the server is not known, and fails with
// ErrStorageWriteFailed.
//
// # Other processes' writes
//
// The front keeps a read cache (cache_size, cache_ttl). On PostgreSQL the
// store is a driver.Watcher, so that processes sharing a table see each
// other's writes at once rather than after cache_ttl: every store announces
// the keys it writes with pg_notify on the channel
// "foxstore:<schema>.<table>" once the write has returned, and stores that
// cache LISTEN on it and drop those keys. Announcing and listening share one
// connection per store, outside the pool (application_name "foxstore
// notify" unless the DSN sets one), opened at the first write or watch; a
// store that only announces closes it after 5 idle minutes. A write only
// hands its keys to that connection: writes that follow one another within
// 5 ms share one announcement, whose transaction commits with
// synchronous_commit off. Keys travel in base64, in as many notifications
// as the payload limit (8,000 bytes) requires, up to 16; a bigger batch is
// announced as "*", which drops whole caches, as does a bare NOTIFY on the
// channel. When the connection is lost, the store connects again with
// growing pauses and then drops its whole cache, since notices may have
// been missed meanwhile.
//
// Triggers on the table would also catch writers other than foxstore, but
// PostgreSQL commits notifying transactions one at a time, WAL flush
// included (on the test server, Sets from 8 goroutines ran at about a sixth
// of their rate; notify.go has the details). So writes by other programs or
// older foxstore versions, and a write whose process died before announcing
// it, reach other caches only when cache_ttl runs out, which still bounds
// staleness. Sweeps need no notice: a cached entry keeps its deadline.
//
// SQLite (one process) and MySQL/MariaDB (no notifications) do not watch:
// Watch returns nil, and cache_ttl alone bounds how long another process's
// write can hide behind a cached value.
//
// # Durability and failures
//
// A write has committed when it returns: SQLite runs with synchronous=FULL in
// WAL mode; the servers with their own settings (PostgreSQL synchronous_commit,
// InnoDB innodb_flush_log_at_trx_commit). When a server goes away, calls
// fail with errors the front codes ErrStorageReadFailed or
// ErrStorageWriteFailed, bounded by their ctx (connecting is bounded by a 10 s
// dial timeout when the DSN sets none); broken connections are dropped from
// the pool, and the store works again once the server is back. Error
// messages never contain the DSN or the password.
//
// # Limits
//
//   - PostgreSQL: a btree entry holds at most about 2,700 bytes, so a stored
//     key longer than that which does not compress would be refused with
//     ErrStorageInvalid. foxstore keeps stored keys (namespace prefixes plus
//     key) to driver.MaxStoredKeyLen (2,600 bytes), below it.
//   - MySQL/MariaDB: a value larger than the server's max_allowed_packet
//     (16 MiB by default on MariaDB, 64 MiB on MySQL 8) is refused with
//     ErrStorageInvalid before it is sent, and Open logs a warning when
//     max_value_size exceeds it. Raise max_allowed_packet on the server to
//     store larger values; the store never changes server settings.
//   - SQLite in memory (":memory:") uses a single connection, so an open
//     transaction holds up every other call; use a file.
//   - PostgreSQL notices need a server session of their own: behind
//     PgBouncer in transaction pooling mode a LISTEN does not last, and
//     caches fall back on cache_ttl. A process that stops reading its
//     notification connection (stopped, not dead) holds back the server's
//     notification queue; when that fills (8 GB by default), announcements
//     fail, writes do not.
package database

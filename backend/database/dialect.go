package database

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"
)

// tableName is what a table name may look like. The configuration checks
// it too; the store checks again because the name ends up inside SQL text
// (quoted, never interpolated unchecked).
var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// metaTable records the schema version of every foxstore table in a
// database. It is shared, so that the name of a data table (up to 63
// characters) never has to grow a suffix.
const metaTable = "foxstore_meta"

// schemaVersion is the version this code writes and understands.
const schemaVersion = 1

// dialect holds the SQL of one driver for one table.
type dialect struct {
	name  string // sqlite, postgres, mysql
	table string // quoted data table
	meta  string // quoted meta table

	get, getLocked   string // one key; getLocked reads inside a transaction
	scan, scanFrom   string // a key range, and a range with no upper bound
	put, del         string // one row
	sweep            string
	probe            string // checks the table has the columns we use
	metaCreate       string
	metaGet, metaPut string     // metaGet reads the rows of the table's name in any case
	migrations       [][]string // migrations[i] moves the schema from version i to i+1

	// prepare lists the statements Open prepares (SQLite: every statement
	// a write or a transaction runs), so that none of them needs a
	// connection of the pool to be prepared later.
	prepare []string
}

func quoteIdent(driverName, id string) string {
	if driverName == "mysql" {
		return "`" + id + "`"
	}
	return `"` + id + `"`
}

// indexName names the expiry index of table. PostgreSQL and SQLite index
// names share one namespace per schema and PostgreSQL cuts identifiers at 63
// bytes, so a long table name gets a hashed index name.
func indexName(table string) string {
	n := table + "_exp"
	if len(n) <= 63 {
		return n
	}
	h := fnv.New64a()
	h.Write([]byte(table))
	return fmt.Sprintf("foxstore_%016x_exp", h.Sum64())
}

func newDialect(driverName, table string) (*dialect, error) {
	if !tableName.MatchString(table) {
		return nil, fmt.Errorf("table name %q: want letters, digits and _, not starting with a digit, at most 63", table)
	}
	if strings.EqualFold(table, metaTable) {
		return nil, fmt.Errorf("table name %q is reserved for foxstore's schema versions", table)
	}
	q := func(id string) string { return quoteIdent(driverName, id) }
	t, idx := q(table), q(indexName(table))
	d := &dialect{name: driverName, table: t, meta: q(metaTable)}
	p := placeholders(driverName)
	d.get = "SELECT v, exp FROM " + t + " WHERE k = " + p(1)
	d.getLocked = d.get
	d.scan = "SELECT k, v, exp FROM " + t + " WHERE k >= " + p(1) + " AND k < " + p(2) + " ORDER BY k"
	d.scanFrom = "SELECT k, v, exp FROM " + t + " WHERE k >= " + p(1) + " ORDER BY k"
	d.del = "DELETE FROM " + t + " WHERE k = " + p(1)
	d.probe = "SELECT k, v, exp FROM " + t + " WHERE 1 = 0"
	// Every recorded name equal to the table's but for case (names are
	// ASCII): the store refuses a new name that differs from a recorded
	// one only in case.
	d.metaGet = "SELECT tbl, version FROM " + d.meta + " WHERE LOWER(tbl) = LOWER(" + p(1) + ")"
	switch driverName {
	case "sqlite":
		d.put = "INSERT INTO " + t + " (k, v, exp) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v, exp = excluded.exp"
		d.sweep = "DELETE FROM " + t + " WHERE k IN (SELECT k FROM " + t + " WHERE exp > 0 AND exp <= ?1 LIMIT ?2) AND exp > 0 AND exp <= ?1"
		d.metaCreate = "CREATE TABLE IF NOT EXISTS " + d.meta + " (tbl TEXT PRIMARY KEY, version INTEGER NOT NULL)"
		d.metaPut = "INSERT INTO " + d.meta + " (tbl, version) VALUES (?, ?) ON CONFLICT (tbl) DO UPDATE SET version = excluded.version"
		d.migrations = [][]string{{
			// WITHOUT ROWID: the rows live in the primary key's b-tree, so
			// a point read or a range scan is one b-tree walk.
			"CREATE TABLE IF NOT EXISTS " + t + " (k BLOB NOT NULL PRIMARY KEY, v BLOB NOT NULL, exp INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID",
			"CREATE INDEX IF NOT EXISTS " + idx + " ON " + t + " (exp) WHERE exp > 0",
		}}
		d.prepare = []string{d.get, d.scan, d.scanFrom, d.put, d.del, d.sweep}
		for n := 2; n <= maxRows; n *= 2 {
			d.prepare = append(d.prepare, d.putMany(n), d.delMany(n))
		}
	case "postgres":
		d.put = "INSERT INTO " + t + " (k, v, exp) VALUES ($1, $2, $3) ON CONFLICT (k) DO UPDATE SET v = excluded.v, exp = excluded.exp"
		d.sweep = "DELETE FROM " + t + " WHERE k IN (SELECT k FROM " + t + " WHERE exp > 0 AND exp <= $1 LIMIT $2) AND exp > 0 AND exp <= $1"
		d.metaCreate = "CREATE TABLE IF NOT EXISTS " + d.meta + " (tbl TEXT PRIMARY KEY, version INTEGER NOT NULL)"
		d.metaPut = "INSERT INTO " + d.meta + " (tbl, version) VALUES ($1, $2) ON CONFLICT (tbl) DO UPDATE SET version = excluded.version"
		d.migrations = [][]string{{
			"CREATE TABLE IF NOT EXISTS " + t + " (k BYTEA NOT NULL PRIMARY KEY, v BYTEA NOT NULL, exp BIGINT NOT NULL DEFAULT 0)",
			"CREATE INDEX IF NOT EXISTS " + idx + " ON " + t + " (exp) WHERE exp > 0",
		}}
	case "mysql":
		d.getLocked = d.get + " FOR UPDATE"
		d.put = "INSERT INTO " + t + " (k, v, exp) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v), exp = VALUES(exp)"
		d.sweep = "DELETE FROM " + t + " WHERE exp > 0 AND exp <= ? ORDER BY exp LIMIT ?"
		d.metaCreate = "CREATE TABLE IF NOT EXISTS " + d.meta + " (tbl VARCHAR(64) NOT NULL PRIMARY KEY, version INT NOT NULL) ENGINE=InnoDB"
		d.metaPut = "INSERT INTO " + d.meta + " (tbl, version) VALUES (?, ?) ON DUPLICATE KEY UPDATE version = VALUES(version)"
		d.migrations = [][]string{{
			// VARBINARY compares bytes; 3072 bytes is InnoDB's longest
			// index key with the DYNAMIC row format (16 KiB pages).
			"CREATE TABLE IF NOT EXISTS " + t + " (k VARBINARY(3072) NOT NULL, v LONGBLOB NOT NULL, exp BIGINT NOT NULL DEFAULT 0, " +
				"PRIMARY KEY (k), KEY " + q("exp_idx") + " (exp)) ENGINE=InnoDB ROW_FORMAT=DYNAMIC",
		}}
	default:
		return nil, fmt.Errorf("unknown database driver %q", driverName)
	}
	return d, nil
}

func placeholders(driverName string) func(int) string {
	if driverName == "postgres" {
		return func(i int) string { return "$" + strconv.Itoa(i) }
	}
	return func(int) string { return "?" }
}

// PostgreSQL statements for many rows: one statement, whatever the count.
func (d *dialect) pgGetMany() string {
	return "SELECT k, v, exp FROM " + d.table + " WHERE k = ANY($1)"
}

func (d *dialect) pgPutMany() string {
	return "INSERT INTO " + d.table + " (k, v, exp) SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bigint[]) " +
		"ON CONFLICT (k) DO UPDATE SET v = excluded.v, exp = excluded.exp"
}

func (d *dialect) pgDelMany() string {
	return "DELETE FROM " + d.table + " WHERE k = ANY($1)"
}

// myGetMany reads n keys on MySQL. The store runs only power-of-two sizes,
// so a handful of prepared statements serve every batch.
func (d *dialect) myGetMany(n int) string {
	return "SELECT k, v, exp FROM " + d.table + " WHERE k IN (" + marks(n, "?") + ")"
}

// putMany and delMany write n rows on SQLite and MySQL, which take
// multi-row VALUES lists. The store runs only power-of-two sizes up to
// maxRows, so a handful of prepared statements serve every batch.
func (d *dialect) putMany(n int) string {
	q := "INSERT INTO " + d.table + " (k, v, exp) VALUES " + marks(n, "(?, ?, ?)")
	if d.name == "mysql" {
		return q + " ON DUPLICATE KEY UPDATE v = VALUES(v), exp = VALUES(exp)"
	}
	return q + " ON CONFLICT (k) DO UPDATE SET v = excluded.v, exp = excluded.exp"
}

func (d *dialect) delMany(n int) string {
	return "DELETE FROM " + d.table + " WHERE k IN (" + marks(n, "?") + ")"
}

func marks(n int, one string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}

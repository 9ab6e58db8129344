// Package cli is the logic behind cmd/foxstore: where a store is (flags,
// configuration files and URLs), how command-line text becomes values and
// TTLs, the exit status of an error, migrations between stores, and the
// benchmark. The command keeps only flags, output and progress.
package cli

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/driver"
)

// Location is where a store is, as the global flags give it. The zero
// Location is the default store (see DefaultFilePath).
type Location struct {
	Config    string // YAML file (root key "storage")
	Backend   string // memory, file, database, redis
	File      string // file backend path
	DSN       string // database connection string or URL
	Driver    string // database driver; inferred from DSN when empty
	Redis     string // host:port[,host:port...] or redis://...
	Namespace string
}

// Target is a resolved store: a configuration, or a go-musicfox bbolt file
// to read from.
type Target struct {
	Config foxstore.Config
	Bolt   string // path of a bbolt database; Config is unused when set
	Bucket string // bbolt bucket; dump.MusicfoxBucket when empty
	// Default is set when nothing named the store and it is the default one.
	Default bool
}

// invalidf is a usage problem, reported with code 5006 and exit status 2.
func invalidf(op, format string, args ...any) error {
	return &foxstore.Error{Op: op, Code: foxstore.CodeInvalid, Err: fmt.Errorf(format, args...)}
}

// Resolve turns the flags into a target. Flags override the configuration
// file; with neither, it is the file backend at DefaultFilePath (or, in a
// build without the file backend, a memory store).
func (l Location) Resolve() (Target, error) {
	const op = "store flags"
	var cfg foxstore.Config
	named := false
	if l.Config != "" {
		c, err := foxstore.LoadConfig(l.Config)
		if err != nil {
			return Target{}, err
		}
		cfg, named = c, true
	} else {
		cfg = foxstore.DefaultConfig()
	}
	set := 0
	for _, s := range []string{l.File, l.DSN, l.Redis} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		return Target{}, invalidf(op, "--file, --dsn and --redis name different backends: give one")
	}
	if l.Backend != "" {
		cfg.Backend, named = l.Backend, true
	}
	implied := func(b string) error {
		if l.Backend != "" && l.Backend != b {
			return invalidf(op, "--backend %s does not match a flag of the %s backend", l.Backend, b)
		}
		cfg.Backend, named = b, true
		return nil
	}
	switch {
	case l.File != "":
		if err := implied("file"); err != nil {
			return Target{}, err
		}
		cfg.FilePath = l.File
	case l.DSN != "":
		if err := implied("database"); err != nil {
			return Target{}, err
		}
		drv, dsn := splitDSN(l.DSN)
		cfg.Database.Driver, cfg.Database.DSN = drv, dsn
	case l.Redis != "":
		if err := implied("redis"); err != nil {
			return Target{}, err
		}
		if strings.Contains(l.Redis, "://") {
			t, err := ParseTarget(l.Redis)
			if err != nil {
				return Target{}, err
			}
			if t.Config.Backend != "redis" {
				return Target{}, invalidf(op, "--redis %s is not a redis:// URL", redact(l.Redis))
			}
			cfg.Redis = t.Config.Redis
		} else {
			cfg.Redis.Addrs = strings.Split(l.Redis, ",")
		}
	}
	if l.Driver != "" {
		if cfg.Backend != "database" {
			return Target{}, invalidf(op, "--driver is for the database backend")
		}
		cfg.Database.Driver = l.Driver
	}
	if l.Namespace != "" {
		cfg.Namespace = l.Namespace
	}
	t := Target{Config: cfg}
	if !named {
		t.Default = true
		if slices.Contains(driver.Backends(), "file") {
			cfg.Backend = "file"
		}
	}
	if err := fillPaths(&cfg); err != nil {
		return Target{}, err
	}
	t.Config = cfg
	return t, nil
}

// fillPaths gives the file and sqlite backends their default paths.
func fillPaths(cfg *foxstore.Config) error {
	switch {
	case cfg.Backend == "file" && cfg.FilePath == "":
		p, err := DefaultFilePath()
		if err != nil {
			return err
		}
		cfg.FilePath = p
	case cfg.Backend == "database" && (cfg.Database.Driver == "" || cfg.Database.Driver == "sqlite") && cfg.Database.DSN == "":
		dir, err := DataDir()
		if err != nil {
			return err
		}
		cfg.Database.DSN = filepath.Join(dir, "storage.db")
	}
	return nil
}

// splitDSN infers the database driver from a DSN and strips a mysql://
// prefix, which go-sql-driver/mysql does not take.
func splitDSN(dsn string) (drv, rest string) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return "postgres", dsn
	case strings.HasPrefix(dsn, "mysql://"):
		return "mysql", strings.TrimPrefix(dsn, "mysql://")
	case strings.HasPrefix(dsn, "sqlite://"):
		return "sqlite", sqlitePath(strings.TrimPrefix(dsn, "sqlite://"))
	case strings.Contains(dsn, "@tcp(") || strings.Contains(dsn, "@unix("):
		return "mysql", dsn
	}
	return "sqlite", dsn
}

// sqlitePath turns the part after sqlite:// into a path: "/tmp/x.db" stays,
// "/C:/x.db" loses its leading slash.
func sqlitePath(p string) string {
	if q := strings.IndexByte(p, '?'); q >= 0 {
		p, rest := p[:q], p[q:]
		return filePath(p) + rest
	}
	return filePath(p)
}

func filePath(p string) string {
	if len(p) >= 3 && p[0] == '/' && p[2] == ':' {
		return p[1:]
	}
	return p
}

// DataDir is where the tool keeps its stores by default: $MUSICFOX_ROOT/foxstore
// when go-musicfox's root is set, else $XDG_DATA_HOME/foxstore, else the
// OS user data directory + foxstore (~/.local/share on Linux, ~/Library/
// Application Support on macOS, %LocalAppData% on Windows).
func DataDir() (string, error) {
	if root := os.Getenv("MUSICFOX_ROOT"); root != "" {
		return filepath.Join(root, "foxstore"), nil
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "foxstore"), nil
	}
	var base string
	switch runtime.GOOS {
	case "windows":
		base = os.Getenv("LocalAppData")
		if base == "" {
			return "", invalidf("data dir", "%%LocalAppData%% is not set; give the store with --file or --config")
		}
	case "darwin", "ios":
		home, err := os.UserHomeDir()
		if err != nil {
			return "", invalidf("data dir", "%v; give the store with --file or --config", err)
		}
		base = filepath.Join(home, "Library", "Application Support")
	default:
		home, err := os.UserHomeDir()
		if err != nil {
			return "", invalidf("data dir", "%v; give the store with --file or --config", err)
		}
		base = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(base, "foxstore"), nil
}

// DefaultFilePath is the file store used when nothing names one.
func DefaultFilePath() (string, error) {
	dir, err := DataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "storage.json"), nil
}

// ParseTarget reads a --from or --to argument: a URL or the path of a YAML
// configuration file.
//
//	memory://
//	file:///path/store.json
//	sqlite:///path/x.db
//	postgres://user:pass@host:5432/db?sslmode=disable   (also postgresql://)
//	mysql://user:pass@tcp(host:3306)/db
//	redis://[user:pass@]host:port[/db][?addr=host2:port]
//	bbolt:///path/musicfox.db[?bucket=default_bucket]   (read-only, a source only)
//
// Every store URL takes ?namespace=NS, and database URLs ?table=NAME; postgres
// and mysql URLs pass the rest of their query to the database driver, the
// others refuse unknown parameters.
func ParseTarget(s string) (Target, error) {
	const op = "parse store URL"
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		cfg, err := foxstore.LoadConfig(s)
		if err != nil {
			return Target{}, err
		}
		if err := fillPaths(&cfg); err != nil {
			return Target{}, err
		}
		return Target{Config: cfg}, nil
	}
	cfg := foxstore.DefaultConfig()
	path, rawQuery, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Target{}, invalidf(op, "%s: bad query: %v", redact(s), err)
	}
	take := func(name string) string {
		v := q.Get(name)
		q.Del(name)
		return v
	}
	cfg.Namespace = take("namespace")
	if t := take("table"); t != "" {
		cfg.Database.Table = t
	}
	noQuery := func() error {
		for k := range q {
			return invalidf(op, "%s: unknown parameter %q", redact(s), k)
		}
		return nil
	}
	switch strings.ToLower(scheme) {
	case "memory", "mem":
		cfg.Backend = "memory"
	case "file":
		cfg.Backend = "file"
		cfg.FilePath = filePath(path)
		if cfg.FilePath == "" {
			return Target{}, invalidf(op, "%s: no path (file:///path/store.json)", s)
		}
	case "sqlite", "sqlite3":
		cfg.Backend, cfg.Database.Driver = "database", "sqlite"
		cfg.Database.DSN = filePath(path)
		if cfg.Database.DSN == "" {
			return Target{}, invalidf(op, "%s: no path (sqlite:///path/store.db)", s)
		}
	case "postgres", "postgresql":
		cfg.Backend, cfg.Database.Driver = "database", "postgres"
		cfg.Database.DSN = scheme + "://" + path
		if len(q) > 0 {
			cfg.Database.DSN += "?" + q.Encode()
		}
		q = nil
	case "mysql", "mariadb":
		cfg.Backend, cfg.Database.Driver = "database", "mysql"
		cfg.Database.DSN = path
		if len(q) > 0 {
			cfg.Database.DSN += "?" + q.Encode()
		}
		q = nil
	case "redis":
		cfg.Backend = "redis"
		u, err := url.Parse("redis://" + path)
		if err != nil || u.Host == "" {
			return Target{}, invalidf(op, "%s: want redis://[user:pass@]host:port[/db]", redact(s))
		}
		cfg.Redis.Addrs = append([]string{u.Host}, q["addr"]...)
		q.Del("addr")
		if u.User != nil {
			cfg.Redis.Username = u.User.Username()
			cfg.Redis.Password, _ = u.User.Password()
		}
		if db := strings.Trim(u.Path, "/"); db != "" {
			n, err := strconv.Atoi(db)
			if err != nil || n < 0 {
				return Target{}, invalidf(op, "%s: database %q is not a number", redact(s), db)
			}
			cfg.Redis.DB = n
		}
	case "bbolt", "bolt":
		p := filePath(path)
		if p == "" {
			return Target{}, invalidf(op, "%s: no path (bbolt:///path/musicfox.db)", s)
		}
		t := Target{Bolt: p}
		if cfg.Namespace != "" {
			return Target{}, invalidf(op, "%s: a bbolt source takes ?bucket=, not ?namespace=", s)
		}
		t.Bucket = take("bucket")
		return t, noQuery()
	default:
		return Target{}, invalidf(op, "%s: unknown scheme %q (want memory, file, sqlite, postgres, mysql, redis, bbolt, or a YAML config path)", redact(s), scheme)
	}
	if err := noQuery(); err != nil {
		return Target{}, err
	}
	return Target{Config: cfg}, nil
}

// Describe names a target for people, without passwords.
func (t Target) Describe() string {
	if t.Bolt != "" {
		return "bbolt " + t.Bolt
	}
	c := t.Config
	var s string
	switch c.Backend {
	case "file":
		s = "file " + c.FilePath
	case "database":
		d := c.Database.Driver
		if d == "" {
			d = "sqlite"
		}
		s = d + " " + redact(c.Database.DSN)
	case "redis":
		s = "redis " + strings.Join(c.Redis.Addrs, ",")
		if c.Redis.DB != 0 {
			s += fmt.Sprintf(" db %d", c.Redis.DB)
		}
	case "":
		s = "memory"
	default:
		s = c.Backend
	}
	if c.Namespace != "" {
		s += fmt.Sprintf(" namespace %q", c.Namespace)
	}
	return s
}

// redact drops credentials from a DSN or URL: user:pass@ and password=...
func redact(dsn string) string {
	if scheme, rest, ok := strings.Cut(dsn, "://"); ok {
		if at := strings.LastIndexByte(strings.SplitN(rest, "/", 2)[0], '@'); at >= 0 {
			rest = rest[at+1:]
		}
		dsn = scheme + "://" + rest
	} else if at := strings.Index(dsn, "@tcp("); at >= 0 {
		dsn = dsn[at+1:]
	} else if at := strings.Index(dsn, "@unix("); at >= 0 {
		dsn = dsn[at+1:]
	}
	if base, query, ok := strings.Cut(dsn, "?"); ok {
		var kept []string
		for _, kv := range strings.Split(query, "&") {
			k, _, _ := strings.Cut(kv, "=")
			if strings.Contains(strings.ToLower(k), "pass") {
				kv = k + "=xxx"
			}
			kept = append(kept, kv)
		}
		dsn = base + "?" + strings.Join(kept, "&")
	}
	return dsn
}

// Same reports whether two targets are certainly the same store, which a
// migration must refuse.
func Same(a, b Target) bool {
	if a.Bolt != "" || b.Bolt != "" {
		return false
	}
	x, y := a.Config, b.Config
	if x.Backend != y.Backend || x.Namespace != y.Namespace {
		return false
	}
	switch x.Backend {
	case "file":
		return samePath(x.FilePath, y.FilePath)
	case "database":
		if x.Database.Driver == "sqlite" && y.Database.Driver == "sqlite" {
			return samePath(x.Database.DSN, y.Database.DSN) && x.Database.Table == y.Database.Table
		}
		return x.Database.Driver == y.Database.Driver && x.Database.DSN == y.Database.DSN && x.Database.Table == y.Database.Table
	case "redis":
		return slices.Equal(x.Redis.Addrs, y.Redis.Addrs) && x.Redis.DB == y.Redis.DB
	}
	return false // two memory stores are always different
}

func samePath(a, b string) bool {
	if a == b {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

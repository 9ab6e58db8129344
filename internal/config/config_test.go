package config

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore/driver"
)

// withDefaults returns DefaultConfig changed by edit.
func withDefaults(edit func(c *driver.Config)) driver.Config {
	c := driver.DefaultConfig()
	if edit != nil {
		edit(&c)
	}
	return c
}

func TestParseDefaults(t *testing.T) {
	for _, doc := range []string{
		"",
		"\n\n",
		"# only a comment\n",
		"---\n",
		"~\n",
		"app:\n  name: x\n",
		"storage:\n",
		"storage: ~\n",
		"storage: null\n",
		"storage: {}\n",
		"storage:\n  database: ~\n  redis:\n",
		"app: {storage: {backend: 5}}\nother: [1, 2]\n",
	} {
		got, err := Parse([]byte(doc))
		if err != nil {
			t.Errorf("Parse(%q): %v", doc, err)
			continue
		}
		if want := driver.DefaultConfig(); !reflect.DeepEqual(got, want) {
			t.Errorf("Parse(%q) = %+v, want the defaults %+v", doc, got, want)
		}
	}
}

func TestParseEveryKey(t *testing.T) {
	doc := `
app:
  title: ignored
storage:
  backend: file
  file_path: /var/lib/app/store.json
  cache_size: 50
  cache_ttl: 250ms
  ttl_cleanup_interval: 1m
  namespace: "app:v1"
  async_write: true
  flush_interval: 2s
  backup_count: 0
  max_value_size: 4MiB
  read_only: true
  database:
    driver: postgresql
    dsn: postgres://u:p@db/app
    table: kv_store
    max_open_conns: 10
    max_idle_conns: 5
    conn_max_lifetime: 30m
  redis:
    addrs: [10.0.0.1:6379, "[::1]:7000"]
    username: fox
    password: hunter2
    db: 3
`
	want := driver.Config{
		Backend:            "file",
		FilePath:           "/var/lib/app/store.json",
		CacheSize:          50,
		CacheTTL:           250 * time.Millisecond,
		TTLCleanupInterval: time.Minute,
		Namespace:          "app:v1",
		AsyncWrite:         true,
		FlushInterval:      2 * time.Second,
		BackupCount:        driver.NoBackups,
		MaxValueSize:       4 << 20,
		ReadOnly:           true,
		Database: driver.DatabaseConfig{
			Driver:          "postgres",
			DSN:             "postgres://u:p@db/app",
			Table:           "kv_store",
			MaxOpenConns:    10,
			MaxIdleConns:    5,
			ConnMaxLifetime: 30 * time.Minute,
		},
		Redis: driver.RedisConfig{
			Addrs:    []string{"10.0.0.1:6379", "[::1]:7000"},
			Username: "fox",
			Password: "hunter2",
			DB:       3,
		},
	}
	got, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if err := Validate(got); err != nil {
		t.Fatalf("Validate of a parsed config: %v", err)
	}
}

func TestParseValues(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory:", err)
	}
	tests := []struct {
		name string
		yaml string // the storage section, indented by two spaces
		want driver.Config
	}{
		{"backend third party", "backend: my_kv-2", withDefaults(func(c *driver.Config) { c.Backend = "my_kv-2" })},
		{"backend redis", "backend: redis", withDefaults(func(c *driver.Config) { c.Backend = "redis" })},
		{"file_path home", "file_path: ~/data/s.json", withDefaults(func(c *driver.Config) { c.FilePath = home + "/data/s.json" })},
		{"file_path bare home", "file_path: \"~\"", withDefaults(func(c *driver.Config) { c.FilePath = home })},
		{"file_path tilde user kept", "file_path: ~bob/x", withDefaults(func(c *driver.Config) { c.FilePath = "~bob/x" })},
		{"file_path relative", "file_path: data/s.json", withDefaults(func(c *driver.Config) { c.FilePath = "data/s.json" })},
		{"file_path empty", "file_path: \"\"", withDefaults(nil)},
		{"cache_size zero turns cache off", "cache_size: 0", withDefaults(func(c *driver.Config) { c.CacheSize = 0 })},
		{"cache_size quoted", "cache_size: \"500\"", withDefaults(func(c *driver.Config) { c.CacheSize = 500 })},
		{"cache_size hex", "cache_size: 0x10", withDefaults(func(c *driver.Config) { c.CacheSize = 16 })},
		{"cache_size underscores", "cache_size: 1_000_000", withDefaults(func(c *driver.Config) { c.CacheSize = 1000000 })},
		{"cache_size whole float", "cache_size: 1e3", withDefaults(func(c *driver.Config) { c.CacheSize = 1000 })},
		{"cache_ttl", "cache_ttl: 1m30s", withDefaults(func(c *driver.Config) { c.CacheTTL = 90 * time.Second })},
		{"cache_ttl fraction", "cache_ttl: 1.5s", withDefaults(func(c *driver.Config) { c.CacheTTL = 1500 * time.Millisecond })},
		{"ttl_cleanup_interval", "ttl_cleanup_interval: 1h", withDefaults(func(c *driver.Config) { c.TTLCleanupInterval = time.Hour })},
		{"namespace number", "namespace: 0123", withDefaults(func(c *driver.Config) { c.Namespace = "0123" })},
		{"namespace unicode", "namespace: 歌曲", withDefaults(func(c *driver.Config) { c.Namespace = "歌曲" })},
		{"namespace empty", "namespace: \"\"", withDefaults(nil)},
		{"namespace 1024 bytes", "namespace: " + strings.Repeat("n", 1024), withDefaults(func(c *driver.Config) { c.Namespace = strings.Repeat("n", 1024) })},
		{"async_write false", "async_write: false", withDefaults(nil)},
		{"async_write yes", "async_write: yes", withDefaults(func(c *driver.Config) { c.AsyncWrite = true })},
		{"async_write quoted", "async_write: \"TRUE\"", withDefaults(func(c *driver.Config) { c.AsyncWrite = true })},
		{"read_only off", "read_only: off", withDefaults(nil)},
		{"flush_interval", "flush_interval: 100ms", withDefaults(func(c *driver.Config) { c.FlushInterval = 100 * time.Millisecond })},
		{"backup_count", "backup_count: 7", withDefaults(func(c *driver.Config) { c.BackupCount = 7 })},
		{"size bytes", "max_value_size: 1024", withDefaults(func(c *driver.Config) { c.MaxValueSize = 1024 })},
		{"size B", "max_value_size: 10B", withDefaults(func(c *driver.Config) { c.MaxValueSize = 10 })},
		{"size KB", "max_value_size: 5KB", withDefaults(func(c *driver.Config) { c.MaxValueSize = 5000 })},
		{"size MB", "max_value_size: 2MB", withDefaults(func(c *driver.Config) { c.MaxValueSize = 2000000 })},
		{"size GB", "max_value_size: 1GB", withDefaults(func(c *driver.Config) { c.MaxValueSize = 1000000000 })},
		{"size KiB", "max_value_size: 5KiB", withDefaults(func(c *driver.Config) { c.MaxValueSize = 5 << 10 })},
		{"size MiB spaced", "max_value_size: 16 MiB", withDefaults(func(c *driver.Config) { c.MaxValueSize = 16 << 20 })},
		{"size GiB limit", "max_value_size: 1GiB", withDefaults(func(c *driver.Config) { c.MaxValueSize = 1 << 30 })},
		{"size lower case", "max_value_size: 64kib", withDefaults(func(c *driver.Config) { c.MaxValueSize = 64 << 10 })},
		{"size string of bytes", "max_value_size: \"4096\"", withDefaults(func(c *driver.Config) { c.MaxValueSize = 4096 })},
		{"driver sqlite3", "database: {driver: sqlite3}", withDefaults(nil)},
		{"driver postgres", "database: {driver: postgres}", withDefaults(func(c *driver.Config) { c.Database.Driver = "postgres" })},
		{"driver mariadb", "database: {driver: mariadb}", withDefaults(func(c *driver.Config) { c.Database.Driver = "mysql" })},
		{"driver mysql", "database: {driver: mysql}", withDefaults(func(c *driver.Config) { c.Database.Driver = "mysql" })},
		{"table 63 chars", "database: {table: _" + strings.Repeat("a", 62) + "}", withDefaults(func(c *driver.Config) { c.Database.Table = "_" + strings.Repeat("a", 62) })},
		{"dsn", "database: {dsn: \"file:x.db?_pragma=busy_timeout(5000)\"}", withDefaults(func(c *driver.Config) { c.Database.DSN = "file:x.db?_pragma=busy_timeout(5000)" })},
		{"conn_max_lifetime zero", "database: {conn_max_lifetime: 0s}", withDefaults(nil)},
		{"conn_max_lifetime bare zero", "database: {conn_max_lifetime: 0}", withDefaults(nil)},
		{"pool sizes", "database: {max_open_conns: 0, max_idle_conns: 2}", withDefaults(func(c *driver.Config) { c.Database.MaxIdleConns = 2 })},
		{"addrs one string", "redis: {addrs: \"cache:6380\"}", withDefaults(func(c *driver.Config) { c.Redis.Addrs = []string{"cache:6380"} })},
		{"addrs block list", "redis:\n    addrs:\n      - a:1\n      - b:65535", withDefaults(func(c *driver.Config) { c.Redis.Addrs = []string{"a:1", "b:65535"} })},
		{"addrs empty host", "redis: {addrs: \":6379\"}", withDefaults(func(c *driver.Config) { c.Redis.Addrs = []string{":6379"} })},
		{"password number text kept", "redis: {password: 00123}", withDefaults(func(c *driver.Config) { c.Redis.Password = "00123" })},
		{"redis db", "redis: {db: 15}", withDefaults(func(c *driver.Config) { c.Redis.DB = 15 })},
		{"username", "redis: {username: admin}", withDefaults(func(c *driver.Config) { c.Redis.Username = "admin" })},
		{"null value keeps default", "cache_ttl:\n  cache_size: ~", withDefaults(nil)},
		{"literal dollar", "namespace: a$b$", withDefaults(func(c *driver.Config) { c.Namespace = "a$b$" })},
		{"bare $NAME stays", "namespace: $HOME", withDefaults(func(c *driver.Config) { c.Namespace = "$HOME" })},
		{"double dollar", "namespace: \"a$$b$${X}\"", withDefaults(func(c *driver.Config) { c.Namespace = "a$b${X}" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "storage:\n  " + tt.yaml + "\n"
			got, err := Parse([]byte(doc))
			if err != nil {
				t.Fatalf("Parse(%q): %v", doc, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q)\n got  %+v\n want %+v", doc, got, tt.want)
			}
			if err := Validate(got); err != nil {
				t.Fatalf("Validate of the result: %v", err)
			}
		})
	}
}

func TestParseAnchorsAndMerge(t *testing.T) {
	doc := `
base: &base
  cache_size: 10
  backend: file
  redis: {db: 2}
addr: &addr "h:1"
storage:
  <<: *base
  backend: memory
  redis:
    addrs: [*addr]
`
	got, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := withDefaults(func(c *driver.Config) {
		c.CacheSize = 10
		c.Redis.Addrs = []string{"h:1"}
	})
	// The mapping's own redis key wins over the merged one, whole.
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

// checkErr asserts that err is a config error about key at line, whose
// message holds every part of wantIn.
func checkErr(t *testing.T, err error, key string, line int, wantIn ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one about %s", key)
	}
	var de *driver.Error
	if !errors.As(err, &de) || de.Code != driver.CodeInvalid || de.Op != "config" || de.Key != "" {
		t.Fatalf("error %v (%T) is not a config *driver.Error with CodeInvalid and no Key", err, err)
	}
	if !errors.Is(err, driver.ErrStorageInvalid) {
		t.Fatalf("error %v does not match ErrStorageInvalid", err)
	}
	var ke *KeyError
	if !errors.As(err, &ke) {
		t.Fatalf("error %v holds no *KeyError", err)
	}
	if ke.Key != key || ke.Line != line {
		t.Fatalf("error %v: key %q line %d, want key %q line %d", err, ke.Key, ke.Line, key, line)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "foxstore: config: invalid: ") || !strings.HasSuffix(msg, " [5006]") {
		t.Fatalf("message %q is not shaped foxstore: config: invalid: ... [5006]", msg)
	}
	if key != "" && !strings.Contains(msg, key+": ") {
		t.Fatalf("message %q does not name %s", msg, key)
	}
	if line > 0 && !strings.Contains(msg, "line "+strconv.Itoa(line)+": ") {
		t.Fatalf("message %q does not name line %d", msg, line)
	}
	if line == 0 && strings.Contains(msg, "line ") {
		t.Fatalf("message %q names a line, want none", msg)
	}
	for _, s := range wantIn {
		if !strings.Contains(msg, s) {
			t.Fatalf("message %q does not contain %q", msg, s)
		}
	}
}

func TestParseMessageShape(t *testing.T) {
	_, err := Parse([]byte("# app\napp: {}\nstorage:\n  cache_size: lots\n"))
	// driver.Error puts the code's text after the operation.
	want := `foxstore: config: invalid: line 4: storage.cache_size: want a non-negative integer, got "lots" [5006]`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		yaml   string // the whole document; the storage section starts at line 1
		key    string
		line   int
		wantIn []string
	}{
		{"unknown key", "storage:\n  cache: 1", "storage.cache", 2, []string{"unknown key"}},
		{"unknown key suggestion", "storage:\n  cacheSize: 1", "storage.cacheSize", 2, []string{"did you mean storage.cache_size?"}},
		{"typo", "storage:\n  cache_tl: 1s", "storage.cache_tl", 2, []string{"did you mean storage.cache_ttl?"}},
		{"typo two letters", "storage:\n  bakend: x\n", "storage.bakend", 2, []string{"did you mean storage.backend?"}},
		{"nothing close", "storage:\n  colour: red", "storage.colour", 2, []string{"unknown key"}},
		{"section key at top", "storage:\n  driver: mysql", "storage.driver", 2, []string{"did you mean storage.database.driver?"}},
		{"dotted key in YAML", "storage:\n  database.driver: mysql", "storage.database.driver", 2, []string{"unknown key"}},
		{"unknown database key", "storage:\n  database:\n    host: x", "storage.database.host", 3, []string{"unknown key"}},
		{"unknown redis key", "storage:\n  redis:\n    addr: x:1", "storage.redis.addr", 3, []string{"did you mean storage.redis.addrs?"}},
		{"storage not a mapping", "storage: [1]", "storage", 1, []string{"want a mapping, got a list"}},
		{"storage a scalar", "storage: memory", "storage", 1, []string{`want a mapping, got "memory"`}},
		{"database not a mapping", "storage:\n  database: sqlite", "storage.database", 2, []string{`want a mapping, got "sqlite"`}},
		{"redis not a mapping", "storage:\n  redis: [a]", "storage.redis", 2, []string{"want a mapping"}},

		{"backend upper", "storage:\n  backend: Memory", "storage.backend", 2, []string{`got "Memory"`}},
		{"backend empty", "storage:\n  backend: \"\"", "storage.backend", 2, []string{`got ""`}},
		{"backend bad char", "storage:\n  backend: my.kv", "storage.backend", 2, []string{"backend name"}},
		{"backend number", "storage:\n  backend: 5", "storage.backend", 2, []string{`got "5"`}},
		{"file_path list", "storage:\n  file_path: [a]", "storage.file_path", 2, []string{"want a string, got a list"}},
		{"file_path bool", "storage:\n  file_path: true", "storage.file_path", 2, []string{"want a string, got true"}},
		{"cache_size negative", "storage:\n  cache_size: -1", "storage.cache_size", 2, []string{"want a non-negative integer, got -1"}},
		{"cache_size fraction", "storage:\n  cache_size: 1.5", "storage.cache_size", 2, []string{"got 1.5"}},
		{"cache_size huge", "storage:\n  cache_size: 99999999999999999999999", "storage.cache_size", 2, []string{"non-negative integer"}},
		{"cache_size uint64", "storage:\n  cache_size: 18446744073709551615", "storage.cache_size", 2, []string{"out of range"}},
		{"cache_size bool", "storage:\n  cache_size: true", "storage.cache_size", 2, []string{"got true"}},
		{"cache_size inf", "storage:\n  cache_size: .inf", "storage.cache_size", 2, []string{"got +Inf"}},
		{"cache_size map", "storage:\n  cache_size: {a: 1}", "storage.cache_size", 2, []string{"got a mapping"}},
		{"cache_ttl zero", "storage:\n  cache_ttl: 0s", "storage.cache_ttl", 2, []string{"positive duration", "cache_size: 0"}},
		{"cache_ttl negative", "storage:\n  cache_ttl: -1s", "storage.cache_ttl", 2, []string{`got "-1s"`}},
		{"cache_ttl bare zero", "storage:\n  cache_ttl: 0", "storage.cache_ttl", 2, []string{"got 0", "cache_size: 0"}},
		{"addrs comma list", "storage:\n  redis:\n    addrs: a:1,b:2", "storage.redis.addrs", 3, []string{"as a list"}},
		{"cache_ttl no unit", "storage:\n  cache_ttl: 5", "storage.cache_ttl", 2, []string{"want a positive duration", "got 5"}},
		{"cache_ttl junk", "storage:\n  cache_ttl: soon", "storage.cache_ttl", 2, []string{`got "soon"`}},
		{"ttl_cleanup_interval zero", "storage:\n  ttl_cleanup_interval: 0m", "storage.ttl_cleanup_interval", 2, []string{"positive duration"}},
		{"flush_interval zero", "storage:\n  flush_interval: 0s", "storage.flush_interval", 2, []string{"positive duration"}},
		{"flush_interval negative", "storage:\n  flush_interval: -5ms", "storage.flush_interval", 2, []string{"positive duration"}},
		{"conn_max_lifetime negative", "storage:\n  database:\n    conn_max_lifetime: -1m", "storage.database.conn_max_lifetime", 3, []string{"non-negative duration"}},
		{"namespace NUL", "storage:\n  namespace: \"a\\0b\"", "storage.namespace", 2, []string{"namespace"}},
		{"namespace too long", "storage:\n  namespace: " + strings.Repeat("x", 1025), "storage.namespace", 2, []string{"1024 bytes", "..."}},
		{"namespace bad UTF-8", "storage:\n  namespace: !!binary /w==", "storage.namespace", 2, []string{"got a value tagged !!binary"}},
		{"async_write junk", "storage:\n  async_write: maybe", "storage.async_write", 2, []string{`want true or false, got "maybe"`}},
		{"async_write number", "storage:\n  async_write: 1", "storage.async_write", 2, []string{"want true or false, got 1"}},
		{"read_only list", "storage:\n  read_only: []", "storage.read_only", 2, []string{"got a list"}},
		{"backup_count negative", "storage:\n  backup_count: -3", "storage.backup_count", 2, []string{"got -3"}},
		{"size zero", "storage:\n  max_value_size: 0", "storage.max_value_size", 2, []string{"size from 1 byte to 1GiB", "got 0"}},
		{"size too big", "storage:\n  max_value_size: 2GiB", "storage.max_value_size", 2, []string{`got "2GiB"`}},
		{"size just too big", "storage:\n  max_value_size: 1073741825", "storage.max_value_size", 2, []string{"got 1073741825"}},
		{"size fraction", "storage:\n  max_value_size: 1.5MiB", "storage.max_value_size", 2, []string{`got "1.5MiB"`}},
		{"size unit", "storage:\n  max_value_size: 16MiBs", "storage.max_value_size", 2, []string{`got "16MiBs"`}},
		{"size negative", "storage:\n  max_value_size: -1", "storage.max_value_size", 2, []string{"got -1"}},
		{"size overflow", "storage:\n  max_value_size: 99999999999999999GiB", "storage.max_value_size", 2, []string{"size from"}},
		{"size trailing space", "storage:\n  max_value_size: \"16 \"", "storage.max_value_size", 2, []string{"size from"}},
		{"driver unknown", "storage:\n  database:\n    driver: oracle", "storage.database.driver", 3, []string{`want "sqlite", "postgres" or "mysql", got "oracle"`}},
		{"driver case", "storage:\n  database:\n    driver: Postgres", "storage.database.driver", 3, []string{`got "Postgres"`}},
		{"table dash", "storage:\n  database:\n    table: my-table", "storage.database.table", 3, []string{"table name", `got "my-table"`}},
		{"table digit first", "storage:\n  database:\n    table: 1kv", "storage.database.table", 3, []string{"table name"}},
		{"table too long", "storage:\n  database:\n    table: " + strings.Repeat("t", 64), "storage.database.table", 3, []string{"table name"}},
		{"table empty", "storage:\n  database:\n    table: ''", "storage.database.table", 3, []string{"table name"}},
		{"max_open_conns negative", "storage:\n  database:\n    max_open_conns: -1", "storage.database.max_open_conns", 3, []string{"non-negative integer"}},
		{"max_idle_conns string", "storage:\n  database:\n    max_idle_conns: few", "storage.database.max_idle_conns", 3, []string{`got "few"`}},
		{"addrs no port", "storage:\n  redis:\n    addrs: localhost", "storage.redis.addrs", 3, []string{`host:port`, `got "localhost"`}},
		{"addrs port name", "storage:\n  redis:\n    addrs: \"h:redis\"", "storage.redis.addrs", 3, []string{`got "h:redis"`}},
		{"addrs port zero", "storage:\n  redis:\n    addrs: \"h:0\"", "storage.redis.addrs", 3, []string{`got "h:0"`}},
		{"addrs port too big", "storage:\n  redis:\n    addrs: \"h:65536\"", "storage.redis.addrs", 3, []string{`got "h:65536"`}},
		{"addrs item", "storage:\n  redis:\n    addrs:\n      - a:1\n      - b", "storage.redis.addrs[1]", 5, []string{`got "b"`}},
		{"addrs item type", "storage:\n  redis:\n    addrs:\n      - {a: 1}", "storage.redis.addrs[0]", 4, []string{"want a string, got a mapping"}},
		{"addrs empty", "storage:\n  redis:\n    addrs: []", "storage.redis.addrs", 3, []string{"want at least one address"}},
		{"addrs number", "storage:\n  redis:\n    addrs: 6379", "storage.redis.addrs", 3, []string{`got "6379"`}},
		{"redis db negative", "storage:\n  redis:\n    db: -1", "storage.redis.db", 3, []string{"got -1"}},
		{"username map", "storage:\n  redis:\n    username: {a: b}", "storage.redis.username", 3, []string{"want a string"}},

		{"duplicate key", "storage:\n  cache_size: 1\n  backend: file\n  cache_size: 2", "storage.cache_size", 4, []string{"duplicate key (first at line 2)"}},
		{"duplicate nested key", "storage:\n  redis:\n    db: 1\n    db: 2", "storage.redis.db", 4, []string{"duplicate key (first at line 3)"}},
		{"duplicate storage", "storage: {}\nstorage: {}", "storage", 2, []string{"duplicate key (first at line 1)"}},
		{"complex key", "storage:\n  ? [a]\n  : 1", "storage", 2, []string{"want string keys"}},
		{"merge of a scalar", "storage:\n  <<: 5", "storage.<<", 2, []string{"want a mapping or a list of mappings"}},
		{"value on the next line", "storage:\n  cache_size:\n    lots", "storage.cache_size", 3, []string{`got "lots"`}},
		{"error in a merged mapping", "base: &b\n  cache_size: x\nstorage:\n  <<: *b", "storage.cache_size", 2, []string{`got "x"`}},
		{"alias used where wrong", "n: &n [1]\nstorage:\n  backend: *n", "storage.backend", 3, []string{"got a list"}},
		{"custom tag", "storage:\n  cache_size: !env SIZE", "storage.cache_size", 2, []string{"got a value tagged !env"}},
		{"malformed tagged int", "storage:\n  cache_size: !!int ten", "storage.cache_size", 2, []string{"got a malformed !!int value"}},
		{"timestamp for an int", "storage:\n  cache_size: 2024-01-02", "storage.cache_size", 2, []string{"got a timestamp"}},
		{"too deep", "storage:\n  x: [[[[[[[[[[[1]]]]]]]]]]]", "storage.x[0][0][0][0][0][0][0][0]", 2, []string{"nested too deeply"}},

		{"self merge", "storage: &s\n  <<: *s", "storage", 2, []string{"nested too deeply"}},
		{"top level list", "- storage", "", 1, []string{"want a mapping at the top level"}},
		{"top level scalar", "\n\nhello", "", 3, []string{"want a mapping at the top level"}},
		{"two documents", "storage: {}\n---\nstorage: {}\n", "", 2, []string{"single YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			checkErr(t, err, tt.key, tt.line, tt.wantIn...)
		})
	}
}

func TestParseSyntaxError(t *testing.T) {
	_, err := Parse([]byte("storage:\n  backend: [unclosed\n"))
	if err == nil || driver.CodeOf(err) != driver.CodeInvalid || !strings.Contains(err.Error(), "line") {
		t.Fatalf("got %v, want an invalid-config error naming the line", err)
	}
}

// An alias bomb must fail quickly rather than expand into billions of nodes.
func TestParseAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 6; i++ {
		prev := "*a" + strconv.Itoa(i-1)
		b.WriteString("a" + strconv.Itoa(i) + ": &a" + strconv.Itoa(i) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(prev)
		}
		b.WriteString("]\n")
	}
	b.WriteString("storage:\n  redis:\n    addrs: *a5\n")
	start := time.Now()
	_, err := Parse([]byte(b.String()))
	if err == nil {
		t.Fatal("no error")
	}
	if !strings.Contains(err.Error(), "too many values") {
		t.Fatalf("unexpected error: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Setenv("FOX_BACKEND", "redis")
	t.Setenv("FOX_TTL", "3s")
	t.Setenv("FOX_SIZE", "250")
	t.Setenv("FOX_BYTES", "2MiB")
	t.Setenv("FOX_ASYNC", "true")
	t.Setenv("FOX_PASS", "p@$$w0rd${NOT_EXPANDED}")
	t.Setenv("FOX_HOST", "cache.internal")
	t.Setenv("FOX_EMPTY", "")
	doc := `
storage:
  backend: ${FOX_BACKEND}
  file_path: "~/${FOX_HOST}/s.json"
  cache_ttl: ${FOX_TTL}
  cache_size: ${FOX_SIZE}
  max_value_size: ${FOX_BYTES}
  async_write: ${FOX_ASYNC}
  namespace: "pre-${FOX_EMPTY}-$FOX_HOST-$${FOX_HOST}-${FOX_BACKEND}${FOX_BACKEND}"
  database:
    dsn: "postgres://app:${FOX_PASS}@db/app"
  redis:
    addrs: ["${FOX_HOST}:6379", "x:1"]
    password: ${FOX_PASS}
`
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory:", err)
	}
	got, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := withDefaults(func(c *driver.Config) {
		c.Backend = "redis"
		c.FilePath = home + "/cache.internal/s.json"
		c.CacheTTL = 3 * time.Second
		c.CacheSize = 250
		c.MaxValueSize = 2 << 20
		c.AsyncWrite = true
		c.Namespace = "pre--$FOX_HOST-${FOX_HOST}-redisredis"
		c.Database.DSN = "postgres://app:p@$$w0rd${NOT_EXPANDED}@db/app"
		c.Redis.Addrs = []string{"cache.internal:6379", "x:1"}
		c.Redis.Password = "p@$$w0rd${NOT_EXPANDED}"
	})
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestEnvExpansionErrors(t *testing.T) {
	t.Setenv("FOX_BAD_TTL", "soon")
	tests := []struct {
		name   string
		yaml   string
		key    string
		line   int
		wantIn []string
	}{
		{"unset", "storage:\n  backend: ${FOX_SURELY_UNSET_1}", "storage.backend", 2, []string{"environment variable FOX_SURELY_UNSET_1 is not set"}},
		{"unset in duration", "storage:\n  cache_ttl: ${FOX_SURELY_UNSET_2}", "storage.cache_ttl", 2, []string{"FOX_SURELY_UNSET_2 is not set"}},
		{"unset in list item", "storage:\n  redis:\n    addrs:\n      - ${FOX_SURELY_UNSET_3}:1", "storage.redis.addrs[0]", 4, []string{"FOX_SURELY_UNSET_3"}},
		{"unterminated", "storage:\n  namespace: \"a${FOX\"", "storage.namespace", 2, []string{`unterminated "${"`}},
		{"empty name", "storage:\n  namespace: \"${}\"", "storage.namespace", 2, []string{"malformed"}},
		{"bad name", "storage:\n  namespace: \"${A-B}\"", "storage.namespace", 2, []string{"malformed"}},
		{"default syntax", "storage:\n  namespace: \"${A:-x}\"", "storage.namespace", 2, []string{"malformed"}},
		{"expanded value is checked", "storage:\n  cache_ttl: ${FOX_BAD_TTL}", "storage.cache_ttl", 2, []string{`got "soon"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			checkErr(t, err, tt.key, tt.line, tt.wantIn...)
		})
	}
}

func TestSecretsNotInMessages(t *testing.T) {
	const secret = "s3cr3t-Value"
	t.Setenv("FOX_SECRET_IN_ENV", secret)
	tests := []struct {
		name string
		yaml string
		key  string
	}{
		{"password list", "storage:\n  redis:\n    password: [" + secret + "]", "storage.redis.password"},
		{"password bool", "storage:\n  redis:\n    password: true", "storage.redis.password"},
		{"password malformed env", "storage:\n  redis:\n    password: \"" + secret + "${" + secret + "-x}\"", "storage.redis.password"},
		{"password unterminated env", "storage:\n  redis:\n    password: \"${" + secret + "\"", "storage.redis.password"},
		{"password bad tag", "storage:\n  redis:\n    password: !!int " + secret, "storage.redis.password"},
		{"password custom tag", "storage:\n  redis:\n    password: !vault " + secret, "storage.redis.password"},
		{"dsn map", "storage:\n  database:\n    dsn: {url: " + secret + "}", "storage.database.dsn"},
		{"dsn malformed env", "storage:\n  database:\n    dsn: \"pg://u:" + secret + "@h/${x y}\"", "storage.database.dsn"},
		{"dsn duplicate", "storage:\n  database:\n    dsn: " + secret + "\n    dsn: " + secret, "storage.database.dsn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("message leaks the secret: %v", err)
			}
			var ke *KeyError
			if !errors.As(err, &ke) || ke.Key != tt.key {
				t.Fatalf("error %v does not name %s", err, tt.key)
			}
		})
	}
	// The same through a settings map.
	for _, m := range []map[string]any{
		{"redis.password": []any{secret}},
		{"redis": map[string]any{"password": map[string]any{"v": secret}}},
		{"database.dsn": "x${" + secret},
	} {
		_, err := FromSettings(m)
		if err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("FromSettings(%v): %v", m, err)
		}
	}
}

func TestFromSettings(t *testing.T) {
	t.Setenv("FOX_S_PASS", "pw")
	tests := []struct {
		name string
		m    map[string]any
		want driver.Config
	}{
		{"nil", nil, withDefaults(nil)},
		{"empty", map[string]any{}, withDefaults(nil)},
		{"nil values keep defaults", map[string]any{"cache_ttl": nil, "database": nil}, withDefaults(nil)},
		{"Go types", map[string]any{
			"backend":              "database",
			"file_path":            "/tmp/x.json",
			"cache_size":           int64(20),
			"cache_ttl":            2 * time.Second,
			"ttl_cleanup_interval": "10m",
			"namespace":            "ns",
			"async_write":          true,
			"flush_interval":       time.Duration(50 * time.Millisecond),
			"backup_count":         uint8(1),
			"max_value_size":       "1MiB",
			"read_only":            "yes",
			"database": map[string]any{
				"driver":            "postgresql",
				"dsn":               "host=db",
				"table":             "t1",
				"max_open_conns":    8,
				"max_idle_conns":    int32(4),
				"conn_max_lifetime": "1h",
			},
			"redis": map[any]any{
				"addrs":    []string{"a:1", "b:2"},
				"username": "u",
				"password": "${FOX_S_PASS}",
				"db":       float64(2),
			},
		}, withDefaults(func(c *driver.Config) {
			c.Backend = "database"
			c.FilePath = "/tmp/x.json"
			c.CacheSize = 20
			c.CacheTTL = 2 * time.Second
			c.TTLCleanupInterval = 10 * time.Minute
			c.Namespace = "ns"
			c.AsyncWrite = true
			c.FlushInterval = 50 * time.Millisecond
			c.BackupCount = 1
			c.MaxValueSize = 1 << 20
			c.ReadOnly = true
			c.Database = driver.DatabaseConfig{Driver: "postgres", DSN: "host=db", Table: "t1", MaxOpenConns: 8, MaxIdleConns: 4, ConnMaxLifetime: time.Hour}
			c.Redis = driver.RedisConfig{Addrs: []string{"a:1", "b:2"}, Username: "u", Password: "pw", DB: 2}
		})},
		{"dotted keys", map[string]any{
			"database.driver": "mysql",
			"database":        map[string]any{"table": "kv"},
			"redis.addrs":     "r:6379",
			"redis.db":        1,
		}, withDefaults(func(c *driver.Config) {
			c.Database.Driver = "mysql"
			c.Database.Table = "kv"
			c.Redis.Addrs = []string{"r:6379"}
			c.Redis.DB = 1
		})},
		{"[]any addrs and int size", map[string]any{
			"redis.addrs":    []any{"a:1"},
			"max_value_size": 4096,
		}, withDefaults(func(c *driver.Config) {
			c.Redis.Addrs = []string{"a:1"}
			c.MaxValueSize = 4096
		})},
		{"json.Number and named strings", map[string]any{
			"cache_size": json.Number("7"),
			"namespace":  json.Number("42"),
		}, withDefaults(func(c *driver.Config) {
			c.CacheSize = 7
			c.Namespace = "42"
		})},
		{"numbers in string keys", map[string]any{
			"redis.password": 1234,
			"namespace":      float64(5),
		}, withDefaults(func(c *driver.Config) {
			c.Redis.Password = "1234"
			c.Namespace = "5"
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromSettings(tt.m)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
			if err := Validate(got); err != nil {
				t.Fatalf("Validate of the result: %v", err)
			}
		})
	}
}

// Settings usually arrive from JSON: numbers become float64, lists []any.
func TestFromSettingsJSON(t *testing.T) {
	var m map[string]any
	src := `{"backend":"redis","cache_size":100,"cache_ttl":"500ms","max_value_size":1048576,
		"redis":{"addrs":["a:1","b:2"],"db":0},"database":{"max_open_conns":3}}`
	if err := json.Unmarshal([]byte(src), &m); err != nil {
		t.Fatal(err)
	}
	got, err := FromSettings(m)
	if err != nil {
		t.Fatal(err)
	}
	want := withDefaults(func(c *driver.Config) {
		c.Backend = "redis"
		c.CacheSize = 100
		c.CacheTTL = 500 * time.Millisecond
		c.MaxValueSize = 1 << 20
		c.Redis.Addrs = []string{"a:1", "b:2"}
		c.Database.MaxOpenConns = 3
	})
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestFromSettingsErrors(t *testing.T) {
	self := map[string]any{}
	self["x"] = self
	n := 3
	tests := []struct {
		name   string
		m      map[string]any
		key    string
		wantIn []string
	}{
		{"unknown", map[string]any{"cache": 1}, "cache", []string{"unknown key"}},
		{"unknown suggestion", map[string]any{"CacheSize": 1}, "CacheSize", []string{"did you mean cache_size?"}},
		{"storage wrapper", map[string]any{"storage": map[string]any{}}, "storage", []string{"keys of the storage section directly"}},
		{"empty key", map[string]any{"": 1}, `""`, []string{"unknown key"}},
		{"unknown dotted", map[string]any{"database.host": "x"}, "database.host", []string{"unknown key"}},
		{"unknown nested", map[string]any{"redis": map[string]any{"addr": "x:1"}}, "redis.addr", []string{"did you mean redis.addrs?"}},
		{"fractional float", map[string]any{"cache_size": 1.5}, "cache_size", []string{"want a non-negative integer, got 1.5"}},
		{"huge float", map[string]any{"cache_size": 1e300}, "cache_size", []string{"non-negative integer"}},
		{"negative int", map[string]any{"backup_count": -2}, "backup_count", []string{"got -2"}},
		{"huge uint", map[string]any{"redis.db": uint64(1 << 63)}, "redis.db", []string{"out of range"}},
		{"string int junk", map[string]any{"cache_size": "many"}, "cache_size", []string{`got "many"`}},
		{"int duration", map[string]any{"cache_ttl": 5}, "cache_ttl", []string{"want a positive duration", "got 5"}},
		{"zero duration", map[string]any{"cache_ttl": time.Duration(0)}, "cache_ttl", []string{"got duration 0s", "cache_size: 0"}},
		{"negative duration", map[string]any{"flush_interval": -time.Second}, "flush_interval", []string{"got duration -1s"}},
		{"bool type", map[string]any{"async_write": 1}, "async_write", []string{"want true or false, got 1"}},
		{"pointer", map[string]any{"cache_size": &n}, "cache_size", []string{"got a value of type *int"}},
		{"bytes", map[string]any{"namespace": []byte("x")}, "namespace", []string{"want a string, got a value of type []uint8"}},
		{"section type", map[string]any{"redis": "x"}, "redis", []string{`want a mapping, got "x"`}},
		{"dotted and nested twice", map[string]any{"database.driver": "mysql", "database": map[string]any{"driver": "sqlite"}}, "database.driver", []string{"given twice"}},
		{"value and section", map[string]any{"redis": "x", "redis.db": 1}, "redis", []string{"redis.db"}},
		{"non-string key", map[string]any{"redis": map[any]any{1: "x"}}, "redis", []string{"want string keys"}},
		{"cycle", map[string]any{"database": self}, "database.x.x.x.x.x.x.x.x", []string{"nested too deeply"}},
		{"bad addr item", map[string]any{"redis.addrs": []string{"a:1", "nope"}}, "redis.addrs[1]", []string{`got "nope"`}},
		{"empty addrs", map[string]any{"redis.addrs": []string{}}, "redis.addrs", []string{"at least one address"}},
		{"unset env", map[string]any{"namespace": "${FOX_SURELY_UNSET_4}"}, "namespace", []string{"FOX_SURELY_UNSET_4 is not set"}},
		{"driver", map[string]any{"database.driver": "sqlserver"}, "database.driver", []string{`got "sqlserver"`}},
		{"size", map[string]any{"max_value_size": float64(2 << 30)}, "max_value_size", []string{"size from 1 byte to 1GiB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromSettings(tt.m)
			checkErr(t, err, tt.key, 0, tt.wantIn...)
		})
	}
}

func TestValidate(t *testing.T) {
	valid := []driver.Config{
		{},
		driver.DefaultConfig(),
		{Backend: "custom_1", Namespace: "a:b", MaxValueSize: 1 << 30, Database: driver.DatabaseConfig{Driver: "mysql", Table: "T_1"}},
		{Redis: driver.RedisConfig{Addrs: []string{"a:1", "[::1]:6379"}}},
	}
	for _, c := range valid {
		if err := Validate(c); err != nil {
			t.Errorf("Validate(%+v): %v", c, err)
		}
	}
	tests := []struct {
		name   string
		edit   func(c *driver.Config)
		key    string
		wantIn []string
	}{
		{"backend", func(c *driver.Config) { c.Backend = "Redis" }, "backend", []string{`got "Redis"`}},
		{"cache_size", func(c *driver.Config) { c.CacheSize = -1 }, "cache_size", []string{"want a non-negative integer, got -1"}},
		{"cache_ttl", func(c *driver.Config) { c.CacheTTL = -time.Second }, "cache_ttl", []string{"0 for the default", "got -1s"}},
		{"ttl_cleanup_interval", func(c *driver.Config) { c.TTLCleanupInterval = -1 }, "ttl_cleanup_interval", []string{"got -1ns"}},
		{"namespace", func(c *driver.Config) { c.Namespace = "a\x00" }, "namespace", []string{"namespace"}},
		{"namespace utf8", func(c *driver.Config) { c.Namespace = "\xff" }, "namespace", []string{"UTF-8"}},
		{"flush_interval", func(c *driver.Config) { c.FlushInterval = -1 }, "flush_interval", nil},
		{"backup_count", func(c *driver.Config) { c.BackupCount = -2 }, "backup_count", nil},
		{"max_value_size negative", func(c *driver.Config) { c.MaxValueSize = -1 }, "max_value_size", []string{"got -1"}},
		{"max_value_size big", func(c *driver.Config) { c.MaxValueSize = 1<<30 + 1 }, "max_value_size", []string{"1GiB"}},
		{"driver", func(c *driver.Config) { c.Database.Driver = "oracle" }, "database.driver", nil},
		{"driver alias", func(c *driver.Config) { c.Database.Driver = "postgresql" }, "database.driver", []string{`got "postgresql"`}},
		{"table", func(c *driver.Config) { c.Database.Table = "a;drop" }, "database.table", nil},
		{"max_open_conns", func(c *driver.Config) { c.Database.MaxOpenConns = -1 }, "database.max_open_conns", nil},
		{"max_idle_conns", func(c *driver.Config) { c.Database.MaxIdleConns = -1 }, "database.max_idle_conns", nil},
		{"conn_max_lifetime", func(c *driver.Config) { c.Database.ConnMaxLifetime = -1 }, "database.conn_max_lifetime", []string{"non-negative duration"}},
		{"addrs", func(c *driver.Config) { c.Redis.Addrs = []string{"a:1", "b"} }, "redis.addrs[1]", []string{`got "b"`}},
		{"redis db", func(c *driver.Config) { c.Redis.DB = -1 }, "redis.db", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, Validate(withDefaults(tt.edit)), tt.key, 0, tt.wantIn...)
		})
	}
	// Secrets and free-form paths are not checked, and never echoed.
	c := withDefaults(func(c *driver.Config) {
		c.Redis.Password = "\x00\xff"
		c.Database.DSN = "\x00"
		c.FilePath = "\x00"
	})
	if err := Validate(c); err != nil {
		t.Fatal(err)
	}
}

func TestExpandEnv(t *testing.T) {
	t.Setenv("FOX_A", "1")
	t.Setenv("FOX_DOLLAR", "$$ ${FOX_A}")
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"$", "$"},
		{"a$", "a$"},
		{"$$", "$"},
		{"$$$", "$$"},
		{"$FOX_A", "$FOX_A"},
		{"${FOX_A}", "1"},
		{"x${FOX_A}y${FOX_A}", "x1y1"},
		{"$${FOX_A}", "${FOX_A}"},
		{"$$${FOX_A}", "$1"},
		{"${FOX_DOLLAR}", "$$ ${FOX_A}"},
		{"$ {FOX_A}", "$ {FOX_A}"},
	}
	for _, tt := range tests {
		got, err := expandEnv(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("expandEnv(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"${", "${FOX_A", "${}", "${1A}", "${A B}", "${FOX_UNSET_FOR_SURE}"} {
		if _, err := expandEnv(bad); err == nil {
			t.Errorf("expandEnv(%q): no error", bad)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1", 1, true},
		{"16MiB", 16 << 20, true},
		{"16 MiB", 16 << 20, true},
		{"3gib", 3 << 30, true},
		{"7Kb", 7000, true},
		{"9223372036854775807", 1<<63 - 1, true},
		{"9223372036854775808", 0, false},
		{"9999999999GiB", 0, false},
		{"", 0, false},
		{"MiB", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1.5MiB", 0, false},
		{"16  MiB", 0, false},
		{"16 ", 0, false},
		{" 16", 0, false},
		{"16TB", 0, false},
		{"16Mi", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseSize(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseSize(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

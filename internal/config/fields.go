package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/foxstore/foxstore/driver"
)

// field is one configuration key: how to read it from the tree, and how to
// check it in a Config built by hand.
type field struct {
	key   string // below the root, dotted: "cache_size", "database.driver"
	set   func(c *driver.Config, v *node) error
	check func(c *driver.Config) error // nil: every value is fine
}

// sections are the keys whose value is a mapping of further keys.
var sections = map[string]bool{"database": true, "redis": true}

const (
	wantCount = "a non-negative integer"
	wantSize  = `a size from 1 byte to 1GiB, such as 16777216 or "16MiB"`
	wantAddr  = `an address "host:port" with a numeric port from 1 to 65535`
)

var fields = []field{
	textField("backend", &textRule{
		want:           `a backend name such as "memory", "file", "database" or "redis" (lowercase letters, digits, "_" and "-")`,
		norm:           func(s string) (string, bool) { return s, backendName.MatchString(s) },
		emptyIsDefault: true,
	}, func(c *driver.Config) *string { return &c.Backend }),
	{
		key: "file_path",
		set: func(c *driver.Config, v *node) error {
			s, err := getString(v, false)
			if err != nil {
				return err
			}
			c.FilePath, err = expandHome(s)
			return err
		},
	},
	intField("cache_size", func(c *driver.Config) *int { return &c.CacheSize }),
	durationField("cache_ttl", &durationRule{
		want:     `a positive duration such as "1s"`,
		positive: true,
		zeroHint: "to turn the read cache off, set cache_size: 0",
	}, func(c *driver.Config) *time.Duration { return &c.CacheTTL }),
	durationField("ttl_cleanup_interval", &durationRule{
		want:     `a positive duration such as "5m"`,
		positive: true,
	}, func(c *driver.Config) *time.Duration { return &c.TTLCleanupInterval }),
	textField("namespace", &textRule{
		want: "a namespace of at most 1024 bytes of valid UTF-8 without NUL",
		norm: func(s string) (string, bool) { return s, validNamespace(s) },
	}, func(c *driver.Config) *string { return &c.Namespace }),
	boolField("async_write", func(c *driver.Config) *bool { return &c.AsyncWrite }),
	durationField("flush_interval", &durationRule{
		want:     `a positive duration such as "1s"`,
		positive: true,
	}, func(c *driver.Config) *time.Duration { return &c.FlushInterval }),
	backupField(),
	{
		key: "max_value_size",
		set: func(c *driver.Config, v *node) error {
			n, err := getSize(v, wantSize, validSize)
			if err != nil {
				return err
			}
			c.MaxValueSize = n
			return nil
		},
		check: func(c *driver.Config) error {
			if n := c.MaxValueSize; n != 0 && !validSize(n) {
				return wantErr(wantSize+", or 0 for the default", fmt.Sprint(n))
			}
			return nil
		},
	},
	boolField("read_only", func(c *driver.Config) *bool { return &c.ReadOnly }),

	textField("database.driver", &textRule{
		want: `"sqlite", "postgres" or "mysql"`,
		norm: func(s string) (string, bool) {
			name, ok := driverNames[s]
			return name, ok
		},
		emptyIsDefault: true,
	}, func(c *driver.Config) *string { return &c.Database.Driver }),
	secretField("database.dsn", func(c *driver.Config) *string { return &c.Database.DSN }),
	textField("database.table", &textRule{
		want:           "a table name of 1 to 63 letters, digits and _, not starting with a digit",
		norm:           func(s string) (string, bool) { return s, tableName.MatchString(s) },
		emptyIsDefault: true,
	}, func(c *driver.Config) *string { return &c.Database.Table }),
	intField("database.max_open_conns", func(c *driver.Config) *int { return &c.Database.MaxOpenConns }),
	intField("database.max_idle_conns", func(c *driver.Config) *int { return &c.Database.MaxIdleConns }),
	durationField("database.conn_max_lifetime", &durationRule{
		want: `a non-negative duration such as "30m" (0: no limit)`,
	}, func(c *driver.Config) *time.Duration { return &c.Database.ConnMaxLifetime }),

	{
		key: "redis.addrs",
		set: func(c *driver.Config, v *node) error {
			addrs, err := getAddrs(v)
			if err != nil {
				return err
			}
			c.Redis.Addrs = addrs
			return nil
		},
		check: func(c *driver.Config) error {
			for i, a := range c.Redis.Addrs {
				if !validAddr(a) {
					return &itemError{index: i, err: wantErr(wantAddr, quote(a))}
				}
			}
			return nil
		},
	},
	textField("redis.username", nil, func(c *driver.Config) *string { return &c.Redis.Username }),
	secretField("redis.password", func(c *driver.Config) *string { return &c.Redis.Password }),
	intField("redis.db", func(c *driver.Config) *int { return &c.Redis.DB }),
}

var fieldByKey = func() map[string]*field {
	m := make(map[string]*field, len(fields))
	for i := range fields {
		m[fields[i].key] = &fields[i]
	}
	return m
}()

// textRule is what a string key accepts.
type textRule struct {
	want string
	// norm returns the canonical spelling of s and whether s is accepted.
	norm func(s string) (string, bool)
	// emptyIsDefault: in a Config built by hand "" means the default; in
	// YAML an explicit empty name is an error.
	emptyIsDefault bool
}

func textField(key string, r *textRule, p func(*driver.Config) *string) field {
	f := field{key: key}
	f.set = func(c *driver.Config, v *node) error {
		s, err := getString(v, false)
		if err != nil {
			return err
		}
		if r != nil {
			canon, ok := r.norm(s)
			if !ok {
				return wantErr(r.want, quote(s))
			}
			s = canon
		}
		*p(c) = s
		return nil
	}
	if r != nil {
		f.check = func(c *driver.Config) error {
			s := *p(c)
			if s == "" && r.emptyIsDefault {
				return nil
			}
			// A hand-built Config must hold the canonical spelling: the
			// backends compare against it.
			if canon, ok := r.norm(s); !ok || canon != s {
				return wantErr(r.want, quote(s))
			}
			return nil
		}
	}
	return f
}

// secretField is a free-form string whose value never appears in a message.
func secretField(key string, p func(*driver.Config) *string) field {
	return field{key: key, set: func(c *driver.Config, v *node) error {
		s, err := getString(v, true)
		if err != nil {
			return err
		}
		*p(c) = s
		return nil
	}}
}

func intField(key string, p func(*driver.Config) *int) field {
	return field{
		key: key,
		set: func(c *driver.Config, v *node) error {
			n, err := getInt(v, wantCount, validCount)
			if err != nil {
				return err
			}
			*p(c) = int(n)
			return nil
		},
		check: func(c *driver.Config) error {
			if n := *p(c); n < 0 {
				return wantErr(wantCount, fmt.Sprint(n))
			}
			return nil
		},
	}
}

func boolField(key string, p func(*driver.Config) *bool) field {
	return field{key: key, set: func(c *driver.Config, v *node) error {
		b, err := getBool(v)
		if err != nil {
			return err
		}
		*p(c) = b
		return nil
	}}
}

func durationField(key string, r *durationRule, p func(*driver.Config) *time.Duration) field {
	return field{
		key: key,
		set: func(c *driver.Config, v *node) error {
			d, err := getDuration(v, r)
			if err != nil {
				return err
			}
			*p(c) = d
			return nil
		},
		check: func(c *driver.Config) error {
			// In a hand-built Config a zero duration means the default
			// (or, for conn_max_lifetime, no limit); only negatives are wrong.
			if d := *p(c); d < 0 {
				want := "a non-negative duration"
				if r.positive {
					want = "a positive duration, or 0 for the default"
				}
				return wantErr(want, d.String())
			}
			return nil
		},
	}
}

// getAddrs reads one address or a non-empty list of them.
func getAddrs(v *node) ([]string, error) {
	if v.kind != kindList {
		s, err := getString(v, false)
		if err != nil {
			return nil, err
		}
		if !validAddr(s) {
			err := wantErr(wantAddr, quote(s))
			if strings.Contains(s, ",") {
				err = fmt.Errorf("%w (give several addresses as a list)", err)
			}
			return nil, err
		}
		return []string{s}, nil
	}
	if len(v.items) == 0 {
		return nil, wantErr("at least one address", "an empty list")
	}
	addrs := make([]string, 0, len(v.items))
	for i, item := range v.items {
		s, err := getString(item, false)
		if err == nil && !validAddr(s) {
			err = wantErr(wantAddr, quote(s))
		}
		if err != nil {
			return nil, &itemError{index: i, line: item.line, err: err}
		}
		addrs = append(addrs, s)
	}
	return addrs, nil
}

// build walks the tree of the storage section and fills a Config that
// starts from the defaults. prefix is put before every key in messages
// ("storage." for YAML, "" for settings).
func build(tree *node, prefix string) (driver.Config, error) {
	cfg := driver.DefaultConfig()
	switch tree.kind {
	case kindNull:
		return cfg, nil
	case kindMap:
	default:
		return driver.Config{}, &KeyError{Key: strings.TrimSuffix(prefix, "."), Line: tree.line, Err: wantErr("a mapping", describe(tree, false))}
	}
	for _, e := range tree.entries {
		if !sections[e.key] {
			if err := setKey(&cfg, prefix, "", e); err != nil {
				return driver.Config{}, err
			}
			continue
		}
		switch e.val.kind {
		case kindNull:
			continue
		case kindMap:
		default:
			return driver.Config{}, &KeyError{Key: prefix + e.key, Line: lineOf(e), Err: wantErr("a mapping", describe(e.val, false))}
		}
		for _, sub := range e.val.entries {
			if err := setKey(&cfg, prefix, e.key, sub); err != nil {
				return driver.Config{}, err
			}
		}
	}
	return cfg, nil
}

// lineOf is the line to report for a bad value: its own, or its key's
// when it has none (an empty value).
func lineOf(e entry) int {
	if e.val.line > 0 {
		return e.val.line
	}
	return e.line
}

func setKey(cfg *driver.Config, prefix, section string, e entry) error {
	name := joinKey(section, e.key)
	f := fieldByKey[name]
	// A dot inside a single YAML key ("database.driver": x) is not a path.
	if f == nil || strings.Contains(e.key, ".") {
		key := prefix + name
		if key == "" {
			key = `""`
		}
		return &KeyError{Key: key, Line: e.line, Err: unknownKey(prefix, name)}
	}
	if e.val.kind == kindNull {
		return nil // an empty value keeps the default
	}
	if err := f.set(cfg, e.val); err != nil {
		return keyErr(prefix+name, lineOf(e), err)
	}
	return nil
}

// unknownKey says that name is not a key, suggesting the key it most
// likely meant: a spelling that differs in case, "_" or "-" (cacheSize), a
// typo of one or two letters, or a database or redis key given at the top
// level.
func unknownKey(prefix, name string) error {
	squash := func(s string) string {
		return strings.NewReplacer("_", "", "-", "", ".", "").Replace(strings.ToLower(s))
	}
	if prefix == "" && name == rootKey {
		return errors.New("unknown key (settings hold the keys of the storage section directly)")
	}
	lastOf := func(s string) string { return s[strings.LastIndexByte(s, '.')+1:] }
	want, last := squash(name), squash(lastOf(name))
	best, bestDist := "", 3
	for _, f := range fields {
		if squash(f.key) == want {
			best, bestDist = f.key, 0
			break
		}
		if d := editDistance(last, squash(lastOf(f.key)), bestDist); d < bestDist {
			best, bestDist = f.key, d
		}
	}
	if best == "" || len(last) < 3 && bestDist > 0 {
		return errors.New("unknown key")
	}
	return fmt.Errorf("unknown key (did you mean %s?)", prefix+best)
}

// editDistance is the Levenshtein distance of a and b, or limit when it is
// at least limit (the loop stops early on long, unrelated names).
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit)
}

// backupField reads backup_count. In a Config, 0 means the default and
// driver.NoBackups keeps none, so "backup_count: 0" becomes NoBackups.
func backupField() field {
	return field{
		key: "backup_count",
		set: func(c *driver.Config, v *node) error {
			n, err := getInt(v, wantCount, validCount)
			if err != nil {
				return err
			}
			c.BackupCount = int(n)
			if n == 0 {
				c.BackupCount = driver.NoBackups
			}
			return nil
		},
		check: func(c *driver.Config) error {
			if n := c.BackupCount; n < 0 && n != driver.NoBackups {
				return wantErr(wantCount, fmt.Sprint(n))
			}
			return nil
		},
	}
}

package driver

import (
	"log/slog"
	"time"
)

// Config configures a store. ParseConfig and LoadConfig read it from YAML
// (root key "storage"); PluginConfig.Settings takes the same keys.
//
// In a Config built by hand, zero durations, sizes and BackupCount mean
// their defaults (see DefaultConfig), so a zero Config keeps backups;
// BackupCount NoBackups keeps none (what "backup_count: 0" gives in YAML).
// CacheSize 0 turns the read cache off, as it does in YAML.
type Config struct {
	Backend            string         `yaml:"backend"`              // memory (default), file, database, redis
	FilePath           string         `yaml:"file_path"`            // file backend; default: user data dir + foxstore/storage.json
	CacheSize          int            `yaml:"cache_size"`           // read-cache entries (database, redis); 0 = off
	CacheTTL           time.Duration  `yaml:"cache_ttl"`            // longest life of a cached value
	TTLCleanupInterval time.Duration  `yaml:"ttl_cleanup_interval"` // how often expired entries are removed
	Namespace          string         `yaml:"namespace"`            // isolates this store's keys
	AsyncWrite         bool           `yaml:"async_write"`          // file backend: acknowledge before fsync
	FlushInterval      time.Duration  `yaml:"flush_interval"`       // with AsyncWrite: the longest a write waits
	BackupCount        int            `yaml:"backup_count"`         // file backend: rotated backups kept; 0 = default, NoBackups = none
	MaxValueSize       int64          `yaml:"max_value_size"`       // largest encoded value in bytes
	ReadOnly           bool           `yaml:"read_only"`            // file backend: open a consistent read-only view
	Database           DatabaseConfig `yaml:"database"`
	Redis              RedisConfig    `yaml:"redis"`

	// Logger receives warnings (recovery, slow cleanup). Nil means slog.Default().
	Logger *slog.Logger `yaml:"-"`
}

// DatabaseConfig configures the database backend.
type DatabaseConfig struct {
	Driver          string        `yaml:"driver"` // sqlite (default), postgres, mysql
	DSN             string        `yaml:"dsn"`
	Table           string        `yaml:"table"` // default foxstore_kv
	MaxOpenConns    int           `yaml:"max_open_conns"`
	MaxIdleConns    int           `yaml:"max_idle_conns"`
	ConnMaxLifetime time.Duration `yaml:"conn_max_lifetime"`
}

// RedisConfig configures the redis backend.
type RedisConfig struct {
	Addrs    []string `yaml:"addrs"` // one address, or several for Redis Cluster
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	DB       int      `yaml:"db"`
}

// Defaults of CONTRACT §12.
const (
	DefaultCacheSize          = 1000
	DefaultCacheTTL           = time.Second
	DefaultTTLCleanupInterval = 5 * time.Minute
	DefaultFlushInterval      = time.Second
	DefaultBackupCount        = 3
	DefaultMaxValueSize       = 16 << 20
	DefaultTable              = "foxstore_kv"
	DefaultRedisAddr          = "127.0.0.1:6379"
)

// NoBackups as Config.BackupCount keeps no backups.
const NoBackups = -1

// DefaultConfig returns the configuration that an empty YAML document gives.
func DefaultConfig() Config {
	return Config{
		Backend:            "memory",
		CacheSize:          DefaultCacheSize,
		CacheTTL:           DefaultCacheTTL,
		TTLCleanupInterval: DefaultTTLCleanupInterval,
		FlushInterval:      DefaultFlushInterval,
		BackupCount:        DefaultBackupCount,
		MaxValueSize:       DefaultMaxValueSize,
		Database:           DatabaseConfig{Driver: "sqlite", Table: DefaultTable},
		Redis:              RedisConfig{Addrs: []string{DefaultRedisAddr}},
	}
}

// WithDefaults fills the zero fields that have a default.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.Backend == "" {
		c.Backend = d.Backend
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = d.CacheTTL
	}
	if c.TTLCleanupInterval == 0 {
		c.TTLCleanupInterval = d.TTLCleanupInterval
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = d.FlushInterval
	}
	if c.BackupCount == 0 {
		c.BackupCount = d.BackupCount
	}
	if c.MaxValueSize == 0 {
		c.MaxValueSize = d.MaxValueSize
	}
	if c.Database.Driver == "" {
		c.Database.Driver = d.Database.Driver
	}
	if c.Database.Table == "" {
		c.Database.Table = d.Database.Table
	}
	if len(c.Redis.Addrs) == 0 {
		c.Redis.Addrs = d.Redis.Addrs
	}
	return c
}

func (c Config) Log() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

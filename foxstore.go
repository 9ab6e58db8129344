// Package foxstore is one key-value storage interface over interchangeable
// backends: memory, file, database (SQLite, PostgreSQL, MySQL/MariaDB) and Redis.
//
// It is the storage plugin of go-musicfox v2, usable by any Go program. The
// behaviour every backend shares is written down once in CONTRACT.md and checked
// by the conformance suite in package storagetest.
//
// # Design: one front, thin backends
//
// The root package is the front, in the manner of database/sql. Everything a
// caller can get wrong or a backend could forget is done here, once: key
// validation, value encoding (see [Value]), TTL arithmetic, glob pattern
// compilation (package pattern), atomic batches, the transaction state machine,
// error codes, statistics, the read cache and namespaces. A backend implements
// the small [Backend] interface (get, ordered range scan, atomic apply, begin)
// and registers itself by name with [Register], usually from a blank import:
//
//	import _ "github.com/foxstore/foxstore/backend/database"
//
// The memory and file backends are always linked.
//
// # Keys, values and expiry
//
// A key is 1 to 1024 bytes of valid UTF-8 without NUL. Strings, []byte, bools,
// every integer and float type, time.Time, json.RawMessage and nil come back from
// Get with their Go type; anything else is stored as JSON and comes back as
// encoding/json decodes it into any, or exactly as T through [GetAs]. Deadlines
// are absolute, kept in Unix milliseconds; an expired key is invisible to every
// read from its deadline on.
package foxstore

import (
	"context"
	"time"

	"github.com/foxstore/foxstore/driver"
)

// Plugin is the go-musicfox v2 plugin lifecycle.
type Plugin interface {
	ID() string
	Name() string
	Version() string
	Description() string
	// Initialize applies config.Settings, which take the same keys as the
	// YAML configuration (see Config).
	Initialize(ctx context.Context, config *PluginConfig) error
	Start(ctx context.Context) error
	// Stop flushes pending writes and stops background work.
	Stop(ctx context.Context) error
	// Cleanup releases files, locks and connection pools.
	Cleanup(ctx context.Context) error
	HealthCheck() HealthStatus
	Dependencies() []string
	Provides() []string
}

// PluginConfig is what a go-musicfox plugin host hands to Initialize.
type PluginConfig struct {
	ID       string
	Name     string
	Enabled  bool
	Settings map[string]interface{}
	Priority int
	Version  string
}

// HealthStatus is the answer to Plugin.HealthCheck.
type HealthStatus struct {
	Healthy   bool
	Message   string
	Details   map[string]interface{}
	Timestamp time.Time
}

// StoragePlugin is the storage interface of go-musicfox v2.
type StoragePlugin interface {
	Plugin

	// Basic operations.
	Get(ctx context.Context, key string) (interface{}, error)
	Set(ctx context.Context, key string, value interface{}, ttl time.Duration) error
	Delete(ctx context.Context, key string) error
	Exists(ctx context.Context, key string) bool

	// Batches: atomic, all or nothing.
	GetBatch(ctx context.Context, keys []string) (map[string]interface{}, error)
	SetBatch(ctx context.Context, data map[string]interface{}) error
	DeleteBatch(ctx context.Context, keys []string) error

	// Queries with Redis KEYS glob patterns.
	Find(ctx context.Context, pattern string) (map[string]interface{}, error)
	Count(ctx context.Context, pattern string) (int, error)
	Keys(ctx context.Context, pattern string) ([]string, error)

	// Transactions.
	BeginTransaction(ctx context.Context) (Transaction, error)

	// Cache management.
	ClearCache(ctx context.Context) error
	GetCacheStats(ctx context.Context) (*CacheStats, error)
}

// Transaction is a serializable transaction. The context given to
// BeginTransaction bounds it.
type Transaction interface {
	Get(key string) (interface{}, error)
	Set(key string, value interface{}) error
	Delete(key string) error
	Commit() error
	// Rollback discards the transaction. It returns nil after Commit or a
	// previous Rollback, so `defer tx.Rollback()` is always safe.
	Rollback() error
}

// Expirer is implemented by every store that Open and New return.
type Expirer interface {
	// TTL returns the time left before key expires, 0 if it never does.
	TTL(ctx context.Context, key string) (time.Duration, error)
	// Expire replaces the TTL of an existing key; ttl 0 removes it.
	Expire(ctx context.Context, key string, ttl time.Duration) error
}

// CacheStats are cumulative since Start.
type CacheStats struct {
	Hits        int64
	Misses      int64
	Evictions   int64
	Expirations int64
	Entries     int64
	Capacity    int64 // 0 means unbounded
	HitRate     float64
}

// Store is everything a store returned by Open or New offers.
type Store interface {
	StoragePlugin
	Expirer
	Close() error
}

// Types shared with backends, defined in package driver.
type (
	// Error is the one error type of foxstore; see driver.Error.
	Error = driver.Error
	// Value is an encoded value; see driver.Value.
	Value = driver.Value
	// Kind is the Go type a Value was stored from.
	Kind = driver.Kind
	// Config configures a store; see driver.Config for every key.
	Config = driver.Config
	// DatabaseConfig configures the database backend.
	DatabaseConfig = driver.DatabaseConfig
	// RedisConfig configures the redis backend.
	RedisConfig = driver.RedisConfig
)

// Error codes (CONTRACT §8).
const (
	CodeReadFailed  = driver.CodeReadFailed
	CodeWriteFailed = driver.CodeWriteFailed
	CodeCorrupted   = driver.CodeCorrupted
	CodeNotFound    = driver.CodeNotFound
	CodeConflict    = driver.CodeConflict
	CodeInvalid     = driver.CodeInvalid
	CodeClosed      = driver.CodeClosed
	CodeTxDone      = driver.CodeTxDone
	CodeLocked      = driver.CodeLocked
)

// Sentinels for errors.Is; every error from a store matches one of them.
var (
	ErrStorageReadFailed  = driver.ErrStorageReadFailed
	ErrStorageWriteFailed = driver.ErrStorageWriteFailed
	ErrStorageCorrupted   = driver.ErrStorageCorrupted
	ErrStorageNotFound    = driver.ErrStorageNotFound
	ErrStorageConflict    = driver.ErrStorageConflict
	ErrStorageInvalid     = driver.ErrStorageInvalid
	ErrStorageClosed      = driver.ErrStorageClosed
	ErrStorageTxDone      = driver.ErrStorageTxDone
	ErrStorageLocked      = driver.ErrStorageLocked
)

// CodeOf returns the foxstore code carried by err, or 0 if it carries none.
func CodeOf(err error) int { return driver.CodeOf(err) }

// NoBackups as Config.BackupCount keeps no backups (0 means the default, 3).
const NoBackups = driver.NoBackups

// DefaultConfig returns the configuration an empty YAML document gives.
func DefaultConfig() Config { return driver.DefaultConfig() }

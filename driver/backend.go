// Package driver defines what a foxstore backend implements, in the manner of
// database/sql/driver: a small Backend interface that stores and finds encoded
// entries, a Tx for transactions, optional interfaces the front discovers with
// type assertions, and Register to make a backend available by name.
//
// It also holds the types that the front (package foxstore) and the backends
// share: Value (the encoded value), Entry, Write, Config and Error with its
// codes. Package foxstore re-exports them under the same names.
//
// # Writing a backend
//
// Implement Backend and Tx, call Register from an init function, and run
// storagetest.Run from your tests. The front has already validated keys,
// encoded values, computed deadlines and compiled patterns before a backend
// sees a call, and it wraps whatever error a backend returns into a coded
// *Error (ErrStorageReadFailed for reads, ErrStorageWriteFailed for writes)
// unless the backend returned a coded *Error itself (for example
// ErrStorageConflict from Tx.Commit, or ErrStorageCorrupted from Open).
package driver

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// Entry is one stored value as a backend sees it.
type Entry struct {
	Value Value
	// Expires is the deadline in Unix milliseconds; 0 means never. The entry
	// is dead from that millisecond on. The front hides dead entries from every
	// read, so a backend may return them until it gets round to removing them.
	Expires int64
}

// Live reports whether the entry is visible at nowMs (Unix milliseconds).
func (e Entry) Live(nowMs int64) bool { return e.Expires == 0 || nowMs < e.Expires }

// Write is one element of an atomic write set: Entry under Key, or, when
// Delete is set, the removal of Key (a missing key is not an error).
type Write struct {
	Key    string
	Entry  Entry
	Delete bool
}

// Backend stores and finds encoded entries. It is all a new backend has to
// write: the front (this package) has already validated every key, encoded
// every value, computed every deadline and compiled every pattern, and it
// wraps every error the backend returns into a coded *Error.
//
// Keys handed to a backend are byte strings of at most MaxStoredKeyLen bytes.
// They may contain any byte except that user keys never do: namespaced keys
// begin with 0xFF and contain NUL separators (see WithNamespace), so a backend
// must store keys as bytes and order them bytewise.
//
// Every method must be safe for concurrent use and must honour ctx. After
// Close, methods must return an error (any error: the front reports
// ErrStorageClosed), never panic.
//
// Errors: return plain errors for I/O, network and server failures (the front
// codes them ErrStorageReadFailed or ErrStorageWriteFailed); return a coded
// *Error (NewError) only for what the front cannot know: ErrStorageConflict,
// ErrStorageLocked, ErrStorageCorrupted, or ErrStorageInvalid for a request
// the backend cannot serve (a Redis Cluster batch across hash slots). Never
// put a value, a password or a full DSN in an error.
//
// A backend may also implement the optional interfaces OneWriter,
// BatchGetter, Sweeper, Flusher, HealthReporter, Backuper and Watcher; the
// front discovers them with type assertions.
type Backend interface {
	// Get returns the entry under key; ok is false when there is none. It may
	// return an expired entry.
	Get(ctx context.Context, key string) (e Entry, ok bool, err error)

	// Scan calls fn for each entry whose key is in [start, end), in ascending
	// byte order, until fn returns false. end == "" means no upper bound. It
	// may include expired entries. fn must not call back into the backend.
	Scan(ctx context.Context, start, end string, fn func(key string, e Entry) bool) error

	// Apply performs every write in ws atomically and durably: all or nothing.
	// A key appears at most once in ws, and ws is sorted by key (which lets a
	// backend lock rows or files in one order and avoid deadlocks).
	Apply(ctx context.Context, ws []Write) error

	// Begin starts a transaction. See Tx for what it must guarantee.
	Begin(ctx context.Context) (Tx, error)

	// Close flushes everything and releases files, locks and connections.
	Close(ctx context.Context) error
}

// Tx is a backend transaction. The front buffers the transaction's
// writes (so reads see them) and hands them to Commit.
//
// Commit must apply the writes atomically and only if the transaction is
// serializable with every other committed transaction and with Apply: for
// example, if no key read through Get changed between the read and the
// commit. Otherwise it returns ErrStorageConflict (or waits, bounded by ctx)
// and applies nothing. A key that Get reads twice must give the same answer
// both times, or the commit must fail: a transaction that saw a key missing,
// then present, must not commit because the key is missing again by then.
// An open transaction must not block Backend.Get or Scan.
type Tx interface {
	Get(ctx context.Context, key string) (e Entry, ok bool, err error)
	Commit(ctx context.Context, ws []Write) error
	Rollback() error
}

// OneWriter takes a single write (Set, Delete) by value. The front calls
// ApplyOne instead of Apply with a one-element slice, which would cost an
// allocation per write: worth having for a backend whose writes take well
// under a microsecond (memory), not for one that talks to a server. A type
// that wraps a backend by embedding it and changes Apply must change
// ApplyOne too, or hide it, since the front prefers ApplyOne.
type OneWriter interface {
	// ApplyOne is Apply(ctx, []Write{w}).
	ApplyOne(ctx context.Context, w Write) error
}

// BatchGetter fetches many keys in one round trip. Without it the front calls
// Get once per key.
type BatchGetter interface {
	// GetMany calls fn for each key of keys that has an entry (in any order).
	GetMany(ctx context.Context, keys []string, fn func(key string, e Entry)) error
}

// Sweeper removes expired entries. Backends whose storage expires entries by
// itself (Redis) need not implement it. The front calls Sweep every
// ttl_cleanup_interval, again and again while more is true, pausing between
// calls, so each call must do a bounded amount of work (limit entries) and
// hold no lock much longer than that takes.
type Sweeper interface {
	Sweep(ctx context.Context, nowMs int64, limit int) (removed int, more bool, err error)
}

// Flusher is implemented by backends that acknowledge writes before they are
// durable (async writes). Stop calls Flush.
type Flusher interface {
	Flush(ctx context.Context) error
}

// HealthReporter adds backend figures (pool sizes, file sizes) to
// HealthCheck; a non-nil error marks the store unhealthy.
type HealthReporter interface {
	Health(ctx context.Context) (map[string]any, error)
}

// Backuper writes a consistent copy of the whole store to w while writes
// continue; opening the copy as a store restores it. foxstore.Backup uses it.
type Backuper interface {
	Backup(ctx context.Context, w io.Writer) error
}

// Watcher is implemented by a backend that other processes may write to (a
// shared database) and whose server can report their writes as they happen,
// such as PostgreSQL's LISTEN/NOTIFY. The front then drops its read cache's
// copies of those keys at once, instead of serving them until cache_ttl
// runs out. Without a Watcher, cache_ttl alone bounds how stale a cached
// value of another process's key can be.
type Watcher interface {
	// Watch starts reporting writes made through other connections: fn
	// gets the stored keys they changed, or nil when writes may have been
	// missed (the server connection was lost and reopened; too many keys
	// to name), which means every cached entry may be stale. fn is called
	// from one goroutine at a time and must not block for long. Reports of
	// the store's own writes are allowed (they only cost a cache miss).
	// Watch returns at once; reporting stops when stop is closed or the
	// backend is closed. The front calls Watch at most once per Start.
	Watch(stop <-chan struct{}, fn func(keys []string)) error
}

// Driver makes a backend from a configuration.
type Driver struct {
	// Open opens (creates if needed) the backend described by cfg. cfg has
	// its defaults filled in.
	Open func(ctx context.Context, cfg Config) (Backend, error)

	// Resident backends hold all their data in memory (memory, file): the
	// front keeps no read cache in front of them, and counts Get hits and
	// misses directly.
	Resident bool

	// Import is the import path that links the driver, named in the error
	// when a configuration asks for a backend that is not linked.
	Import string
}

// MaxStoredKeyLen bounds the keys a backend must accept: a user key plus its
// namespace prefixes (a 1024-byte key in a namespace with a 1024-byte name
// fits). It stays under PostgreSQL's B-tree entry limit (about 2700 bytes)
// and MySQL InnoDB's index limit (3072 bytes).
const MaxStoredKeyLen = 2600

var (
	driversMu sync.RWMutex
	drivers   = map[string]Driver{}
	// known names the import of backends that are not linked by default.
	known = map[string]string{
		"database": "github.com/foxstore/foxstore/backend/database",
		"redis":    "github.com/foxstore/foxstore/backend/redis",
	}
)

// Register makes a backend available under name, for the "backend" key of
// the configuration. It is meant to be called from an init function, and
// panics if name is taken or d.Open is nil.
func Register(name string, d Driver) {
	driversMu.Lock()
	defer driversMu.Unlock()
	if d.Open == nil {
		panic("foxstore: Register " + name + " with nil Open")
	}
	if _, dup := drivers[name]; dup {
		panic("foxstore: Register called twice for backend " + name)
	}
	drivers[name] = d
}

func Lookup(name string) (Driver, error) {
	driversMu.RLock()
	d, ok := drivers[name]
	driversMu.RUnlock()
	if ok {
		return d, nil
	}
	if imp, ok := known[name]; ok {
		return Driver{}, fmt.Errorf("backend %q is not linked into this program: add import _ %q", name, imp)
	}
	return Driver{}, fmt.Errorf("unknown backend %q (linked: %s)", name, strings.Join(Backends(), ", "))
}

// Backends lists the names of the linked backends.
func Backends() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	names := make([]string, 0, len(drivers))
	for n := range drivers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

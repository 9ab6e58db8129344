package foxstore

import (
	"context"
	"os"

	"github.com/foxstore/foxstore/driver"
	"github.com/foxstore/foxstore/internal/config"
)

// ParseConfig reads the YAML document data, whose root key is "storage".
// Other root keys are ignored, so the storage section can live in a larger
// application config. Unknown keys under "storage", wrong types and bad
// values are ErrStorageInvalid errors that name the key and the line.
func ParseConfig(yaml []byte) (Config, error) {
	return config.Parse(yaml)
}

// LoadConfig reads and parses the YAML file at path.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, &Error{Op: "load config", Code: CodeInvalid, Err: err}
	}
	return config.Parse(data)
}

// Open makes a store from cfg and starts it (New, then Start).
func Open(ctx context.Context, cfg Config) (StoragePlugin, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// New makes a store from cfg without starting it, for a plugin host that
// drives the lifecycle (Initialize, Start, Stop, Cleanup) itself.
func New(cfg Config) (StoragePlugin, error) {
	return newStore(cfg)
}

// GetAs returns the value under key decoded as T: exactly the Go value that
// was stored, for any JSON-encodable T.
func GetAs[T any](ctx context.Context, s StoragePlugin, key string) (T, error) {
	var out T
	err := getInto(ctx, s, key, &out)
	return out, err
}

// Update runs fn in a transaction and commits it, retrying with backoff while
// the commit fails with ErrStorageConflict, until ctx ends. fn may run more
// than once, so it must not have side effects outside the transaction. An
// error from fn rolls the transaction back and is returned as is.
func Update(ctx context.Context, s StoragePlugin, fn func(Transaction) error) error {
	return update(ctx, s, fn)
}

// WithNamespace returns a view of s whose keys are private to it: s and every
// other view never see them, through any method. Views nest. ns follows the
// key rules. The view shares s's lifecycle, statistics and cache: closing the
// view closes the store.
func WithNamespace(s StoragePlugin, ns string) StoragePlugin {
	return withNamespace(s, ns)
}

var _ = driver.Lookup

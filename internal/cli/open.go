package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/foxstore/foxstore"
)

// Mode says what a command does to a store.
type Mode int

const (
	// Read never changes the store; a store that does not exist yet is an
	// error rather than created empty.
	Read Mode = iota
	// Write may create the store.
	Write
)

// Open opens and starts the store of t. Warnings (a recovery from a damaged
// file, for one) go to logger.
func Open(ctx context.Context, t Target, mode Mode, logger *slog.Logger) (foxstore.Store, error) {
	if t.Bolt != "" {
		return nil, invalidf("open", "%s is a bbolt database, read only by import and migrate --from", t.Bolt)
	}
	cfg := t.Config
	cfg.Logger = logger
	if p := localPath(cfg); p != "" {
		if mode == Read {
			if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
				return nil, &foxstore.Error{Op: "open", Code: foxstore.CodeInvalid,
					Err: fmt.Errorf("no store at %s: nothing has been stored there yet (foxstore set or foxstore import creates it)", p)}
			}
			if cfg.Backend == "file" {
				// A read-only view lets the tool read a store that a running
				// program holds.
				cfg.ReadOnly = true
			}
		} else if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, &foxstore.Error{Op: "open", Code: foxstore.CodeWriteFailed, Err: err}
		}
	}
	s, err := foxstore.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	st, ok := s.(foxstore.Store)
	if !ok {
		return nil, fmt.Errorf("foxstore.Open returned %T, which is not a foxstore.Store", s)
	}
	return st, nil
}

// localPath is the file a file or SQLite store lives in, or "".
func localPath(cfg foxstore.Config) string {
	switch {
	case cfg.Backend == "file":
		return cfg.FilePath
	case cfg.Backend == "database" && (cfg.Database.Driver == "sqlite" || cfg.Database.Driver == "sqlite3" || cfg.Database.Driver == ""):
		dsn := cfg.Database.DSN
		if dsn == "" || strings.HasPrefix(dsn, "file:") || strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "?") {
			return ""
		}
		return dsn
	}
	return ""
}

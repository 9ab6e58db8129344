package file

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foxstore/foxstore/driver"
)

// logBuffer collects what a store logs, for tests that check warnings.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) warnings() []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, "level=WARN") {
			out = append(out, line)
		}
	}
	return out
}

func testConfig(path string, logs *logBuffer) driver.Config {
	cfg := driver.DefaultConfig()
	cfg.Backend = "file"
	cfg.FilePath = path
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	} else {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

func mustOpen(t testing.TB, cfg driver.Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg.FilePath, err)
	}
	return s
}

func mustClose(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func val(t testing.TB, x any) driver.Value {
	t.Helper()
	v, err := driver.EncodeValue(x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func set(key string, v driver.Value, exp int64) driver.Write {
	return driver.Write{Key: key, Entry: driver.Entry{Value: v, Expires: exp}}
}

func del(key string) driver.Write { return driver.Write{Key: key, Delete: true} }

func sorted(ws ...driver.Write) []driver.Write {
	slices.SortFunc(ws, func(a, b driver.Write) int { return strings.Compare(a.Key, b.Key) })
	return ws
}

func mustApply(t testing.TB, s *Store, ws ...driver.Write) {
	t.Helper()
	if err := s.Apply(context.Background(), sorted(ws...)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// dump returns every entry of s, in key order, as text.
func dump(t testing.TB, s *Store) string {
	t.Helper()
	var b strings.Builder
	err := s.Scan(context.Background(), "", "", func(k string, e driver.Entry) bool {
		fmt.Fprintf(&b, "%q=%s:%s", k, e.Value.Type(), e.Value.JSON())
		if e.Expires != 0 {
			fmt.Fprintf(&b, "@%d", e.Expires)
		}
		b.WriteByte('\n')
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func getValue(t testing.TB, s *Store, key string) (driver.Value, bool) {
	t.Helper()
	e, ok, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if ok && e.Expires != 0 && !e.Live(time.Now().UnixMilli()) {
		ok = false
	}
	return e.Value, ok
}

var _ = json.Valid

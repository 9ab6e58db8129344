package foxstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

func open(t testing.TB, cfg foxstore.Config) foxstore.Store {
	t.Helper()
	s, err := foxstore.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := s.(foxstore.Store)
	t.Cleanup(func() { st.Close() })
	return st
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	p, err := foxstore.New(foxstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Set(ctx, "user:00000001", "v", 0); !errors.Is(err, foxstore.ErrStorageClosed) {
		t.Fatalf("Set before Start = %v, want ErrStorageClosed", err)
	}
	if h := p.HealthCheck(); h.Healthy {
		t.Error("healthy before Start")
	}
	if err := p.Initialize(ctx, &foxstore.PluginConfig{Settings: map[string]interface{}{"backend": "memory", "cache_size": 10}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatalf("second Start: %v", err)
	}
	if h := p.HealthCheck(); !h.Healthy || h.Details["backend"] != "memory" {
		t.Errorf("HealthCheck = %+v", h)
	}
	if err := p.Initialize(ctx, &foxstore.PluginConfig{Settings: map[string]interface{}{"backend": "memory"}}); !errors.Is(err, foxstore.ErrStorageInvalid) {
		t.Errorf("Initialize while running = %v, want ErrStorageInvalid", err)
	}
	if err := p.Set(ctx, "user:00000001", "v", 0); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Get(ctx, "user:00000001"); !errors.Is(err, foxstore.ErrStorageClosed) {
		t.Fatalf("Get after Stop = %v, want ErrStorageClosed", err)
	}
	// Stop keeps the backend: Start resumes with the data.
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := p.Get(ctx, "user:00000001"); err != nil || v != "v" {
		t.Fatalf("Get after restart = %v, %v", v, err)
	}
	if err := p.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.(foxstore.Store).Close(); err != nil {
		t.Fatalf("Close after Cleanup: %v", err)
	}
	if ok := p.Exists(ctx, "user:00000001"); ok {
		t.Error("Exists after Cleanup")
	}
	// Cleanup released the backend: Start opens a new (empty) one.
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if p.Exists(ctx, "user:00000001") {
		t.Error("memory data survived Cleanup")
	}
	p.(foxstore.Store).Close()
	if p.ID() == "" || p.Name() == "" || p.Version() == "" || p.Description() == "" || len(p.Provides()) == 0 || p.Dependencies() != nil {
		t.Error("plugin metadata missing")
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for name, c := range map[string]struct {
		cfg  foxstore.Config
		want string
	}{
		"not linked": {foxstore.Config{Backend: "database"}, "github.com/foxstore/foxstore/backend/database"},
		"unknown":    {foxstore.Config{Backend: "tape"}, "unknown backend"},
		"bad table":  {foxstore.Config{Backend: "memory", Database: foxstore.DatabaseConfig{Table: "x; drop"}}, "table"},
	} {
		_, err := foxstore.Open(ctx, c.cfg)
		if !errors.Is(err, foxstore.ErrStorageInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Open = %v, want ErrStorageInvalid mentioning %q", name, err, c.want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := foxstore.Open(cancelled, foxstore.Config{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with cancelled ctx = %v", err)
	}
}

func TestBackgroundCleanupRemovesExpired(t *testing.T) {
	s := open(t, foxstore.Config{TTLCleanupInterval: 10 * time.Millisecond})
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		if err := s.Set(ctx, k, 1, time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Set(ctx, "live", 1, 0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := s.GetCacheStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Expirations == 3 {
			if st.Entries != 1 {
				t.Errorf("Entries = %d, want 1", st.Entries)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cleanup never ran: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDeadlineRounding(t *testing.T) {
	s := open(t, foxstore.Config{})
	ctx := context.Background()
	if err := s.Set(ctx, "k", 1, 1500*time.Microsecond); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "long", 1, time.Duration(1<<63-1)); err != nil {
		t.Fatalf("longest TTL: %v", err)
	}
	if d, err := s.TTL(ctx, "long"); err != nil || d < 100*365*24*time.Hour {
		t.Errorf("TTL of longest = %v, %v", d, err)
	}
	time.Sleep(10 * time.Millisecond)
	if s.Exists(ctx, "k") {
		t.Error("1.5ms key alive after 10ms")
	}
}

type notOurs struct{ foxstore.StoragePlugin }

func TestWithNamespaceOfForeignStore(t *testing.T) {
	base := open(t, foxstore.Config{})
	v := foxstore.WithNamespace(notOurs{base}, "ns")
	ctx := context.Background()
	if err := v.Set(ctx, "k", 1, 0); !errors.Is(err, foxstore.ErrStorageInvalid) {
		t.Errorf("Set = %v", err)
	}
	if _, err := v.Keys(ctx, "*"); !errors.Is(err, foxstore.ErrStorageInvalid) {
		t.Errorf("Keys = %v", err)
	}
	if keys, _ := base.Keys(ctx, "*"); len(keys) != 0 {
		t.Errorf("foreign view wrote %v", keys)
	}
}

func TestNamespaceFromConfig(t *testing.T) {
	ctx := context.Background()
	s := open(t, foxstore.Config{Namespace: "app"})
	if err := s.Set(ctx, "k", "v", 0); err != nil {
		t.Fatal(err)
	}
	if h := s.HealthCheck(); h.Details["namespace"] != "app" {
		t.Errorf("health details = %v", h.Details)
	}
	if v, err := foxstore.GetAs[string](ctx, s, "k"); err != nil || v != "v" {
		t.Errorf("GetAs = %q, %v", v, err)
	}
}

func TestExportImport(t *testing.T) {
	ctx := context.Background()
	src := open(t, foxstore.Config{})
	dst := open(t, foxstore.Config{Namespace: "copy"})
	type song struct{ Title string }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(src.Set(ctx, "a", uint16(7), 0))
	must(src.Set(ctx, "b", song{"x"}, time.Hour))
	must(src.Set(ctx, "c", []byte{0, 1}, 0))
	var recs []foxstore.Record
	must(foxstore.Export(ctx, src, "*", func(r foxstore.Record) error { recs = append(recs, r); return nil }))
	if len(recs) != 3 || recs[0].Key != "a" || recs[1].Expires.IsZero() {
		t.Fatalf("records = %+v", recs)
	}
	must(foxstore.Import(ctx, dst, recs))
	if v, err := dst.Get(ctx, "a"); err != nil || v != uint16(7) {
		t.Errorf("a = %#v, %v", v, err)
	}
	if v, err := foxstore.GetAs[song](ctx, dst, "b"); err != nil || v.Title != "x" {
		t.Errorf("b = %#v, %v", v, err)
	}
	if d, err := dst.TTL(ctx, "b"); err != nil || d <= 0 || d > time.Hour {
		t.Errorf("TTL(b) = %v, %v", d, err)
	}
	bad := append(recs, foxstore.Record{Key: "", Value: recs[0].Value})
	if err := foxstore.Import(ctx, dst, bad); !errors.Is(err, foxstore.ErrStorageInvalid) {
		t.Errorf("Import with bad key = %v", err)
	}
	if err := foxstore.Import(ctx, dst, []foxstore.Record{{Key: "z"}}); !errors.Is(err, foxstore.ErrStorageInvalid) {
		t.Errorf("Import of zero Value = %v", err)
	}
	if err := foxstore.Backup(ctx, src, nil); !errors.Is(err, foxstore.ErrStorageInvalid) {
		t.Errorf("Backup of memory = %v", err)
	}
}

package memory_test

import (
	"context"
	"testing"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/backend/memory"
	"github.com/foxstore/foxstore/driver"
	"github.com/foxstore/foxstore/storagetest"
)

func TestContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) foxstore.StoragePlugin {
		s, err := foxstore.Open(context.Background(), foxstore.Config{Backend: "memory"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.(foxstore.Store).Close() })
		return s
	})
}

func entry(s string) driver.Entry {
	v, err := driver.EncodeValue(s)
	if err != nil {
		panic(err)
	}
	return driver.Entry{Value: v}
}

// Scans and sweeps work a slice of the index at a time; these cross many.
func TestScanAndSweepCrossSlices(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	var ws []driver.Write
	for i := 0; i < 2000; i++ {
		e := entry("v")
		if i%2 == 0 {
			e.Expires = 1 // long gone
		}
		ws = append(ws, driver.Write{Key: string(rune('a'+i%26)) + string(rune(0x100+i)), Entry: e})
	}
	if err := s.Apply(ctx, ws); err != nil {
		t.Fatal(err)
	}
	var prev string
	n := 0
	if err := s.Scan(ctx, "", "", func(k string, _ driver.Entry) bool {
		if k <= prev {
			t.Fatalf("scan out of order: %q after %q", k, prev)
		}
		prev, n = k, n+1
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if n != 2000 {
		t.Fatalf("scan saw %d keys, want 2000", n)
	}
	n = 0
	s.Scan(ctx, "b", "c", func(k string, _ driver.Entry) bool {
		if k < "b" || k >= "c" {
			t.Fatalf("key %q outside [b, c)", k)
		}
		n++
		return true
	})
	if n == 0 {
		t.Fatal("range scan found nothing")
	}
	removed := 0
	for {
		r, more, err := s.Sweep(ctx, 2, 300)
		if err != nil {
			t.Fatal(err)
		}
		removed += r
		if !more {
			break
		}
	}
	if removed != 1000 {
		t.Fatalf("swept %d, want 1000", removed)
	}
	n = 0
	s.Scan(ctx, "", "", func(string, driver.Entry) bool { n++; return true })
	if n != 1000 {
		t.Fatalf("%d keys after sweep, want 1000", n)
	}
}

func TestClosedBackendFailsWrites(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	s.Close(ctx)
	if err := s.Apply(ctx, []driver.Write{{Key: "k", Entry: entry("v")}}); err == nil {
		t.Error("Apply after Close succeeded")
	}
	if _, err := s.Begin(ctx); err == nil {
		t.Error("Begin after Close succeeded")
	}
}

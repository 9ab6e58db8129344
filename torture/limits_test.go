package torture_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/pattern"
	"github.com/foxstore/foxstore/torture"
)

// Resource limits (issue 7 §5): huge keys, values, batches, patterns and
// namespace nests are refused cleanly, with ErrStorageInvalid and without
// work or memory out of proportion, or served correctly; never a crash, a
// hang, or a backend error that leaves the store broken.

func wantInvalid(t *testing.T, op string, err error) {
	t.Helper()
	if !errors.Is(err, foxstore.ErrStorageInvalid) {
		t.Errorf("%s = %.200v, want ErrStorageInvalid", op, err)
	}
}

// allocated returns how many bytes fn allocated.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestSecurityLimits(t *testing.T) {
	eachBackend(t, func(t *testing.T, newStore func(*testing.T) foxstore.StoragePlugin) {
		s := newStore(t)
		t.Run("keys", func(t *testing.T) { hugeKeys(t, s) })
		t.Run("values", func(t *testing.T) { hugeValues(t, s) })
		t.Run("batches", func(t *testing.T) { hugeBatches(t, s) })
		t.Run("patterns", func(t *testing.T) { hugePatterns(t, s) })
		t.Run("namespaces", func(t *testing.T) { deepNamespaces(t, s) })
		// Whatever happened above, the store still works.
		if err := s.Set(t.Context(), "still", "working", 0); err != nil {
			t.Errorf("Set after the limit tests: %v", err)
		}
		if v, err := s.Get(t.Context(), "still"); err != nil || v != "working" {
			t.Errorf("Get after the limit tests = %v, %v", v, err)
		}
	})
}

// hugeKeys tries keys over the limit through every method that takes one.
func hugeKeys(t *testing.T, s foxstore.StoragePlugin) {
	ctx := t.Context()
	for _, n := range []int{foxstore.MaxKeyLen + 1, 1 << 20, 16 << 20} {
		k := strings.Repeat("k", n)
		name := fmt.Sprintf("%d-byte key", n)
		_, err := s.Get(ctx, k)
		wantInvalid(t, "Get of a "+name, err)
		wantInvalid(t, "Set of a "+name, s.Set(ctx, k, 1, 0))
		wantInvalid(t, "Delete of a "+name, s.Delete(ctx, k))
		_, err = s.GetBatch(ctx, []string{"ok", k})
		wantInvalid(t, "GetBatch with a "+name, err)
		wantInvalid(t, "SetBatch with a "+name, s.SetBatch(ctx, map[string]any{"ok": 1, k: 1}))
		wantInvalid(t, "DeleteBatch with a "+name, s.DeleteBatch(ctx, []string{"ok", k}))
		if e, ok := s.(foxstore.Expirer); ok {
			_, err = e.TTL(ctx, k)
			wantInvalid(t, "TTL of a "+name, err)
			wantInvalid(t, "Expire of a "+name, e.Expire(ctx, k, time.Minute))
		}
		err = foxstore.Update(ctx, s, func(tx foxstore.Transaction) error {
			_, err := tx.Get(k)
			wantInvalid(t, "tx.Get of a "+name, err)
			wantInvalid(t, "tx.Set of a "+name, tx.Set(k, 1))
			wantInvalid(t, "tx.Delete of a "+name, tx.Delete(k))
			return nil
		})
		if err != nil {
			t.Errorf("Update after refused operations: %v", err)
		}
		wantInvalid(t, "Set in a namespace named by a "+name, foxstore.WithNamespace(s, k).Set(ctx, "x", 1, 0))
		if s.Exists(ctx, k) {
			t.Errorf("Exists of a %s = true", name)
		}
	}
	if n, err := s.Count(ctx, "ok"); err != nil || n != 0 {
		t.Errorf(`Count("ok") = %d, %v: a refused batch wrote its good key`, n, err)
	}
}

// hugeValues tries values far over max_value_size, of several types, and
// checks that refusing one costs memory in proportion to it (a copy or two),
// not more.
func hugeValues(t *testing.T, s foxstore.StoragePlugin) {
	ctx := t.Context()
	const size = 64 << 20
	raw := make([]byte, size)
	for _, c := range []struct {
		name string
		v    any
	}{
		{"[]byte", raw},
		{"string", string(raw)},
		// JSON values: see TestBug_HugeJSONValueEncodedBeforeRefusal.
	} {
		var err error
		n := allocated(func() { err = s.Set(ctx, "huge", c.v, 0) })
		wantInvalid(t, fmt.Sprintf("Set of a %d MiB %s", size>>20, c.name), err)
		// A copy or two of the value, no more.
		if n > 2*size {
			t.Errorf("refusing a %d MiB %s allocated %d MiB", size>>20, c.name, n>>20)
		}
		wantInvalid(t, "SetBatch with a huge "+c.name, s.SetBatch(ctx, map[string]any{"small": 1, "huge": c.v}))
		err = foxstore.Update(ctx, s, func(tx foxstore.Transaction) error { return tx.Set("huge", c.v) })
		wantInvalid(t, "tx.Set of a huge "+c.name, err)
	}
	if s.Exists(ctx, "huge") || s.Exists(ctx, "small") {
		t.Error("a refused value or batch wrote something")
	}
}

// hugeBatches stores, reads and deletes batches larger than the parameter
// limits of SQL servers (65,535 for PostgreSQL, 32,766 for SQLite) and one
// over 20 MiB, more than MariaDB's default max_allowed_packet (16 MiB).
func hugeBatches(t *testing.T, s foxstore.StoragePlugin) {
	ctx := t.Context()
	// Over SQLite's limit everywhere; over PostgreSQL's where it matters
	// (under -race, SQLite takes a minute for 66,000 keys).
	n := 33_000
	if strings.Contains(t.Name(), "postgres") || torture.Long() {
		n = 66_000
	}
	if raceEnabled && strings.Contains(t.Name(), "sqlite") && !torture.Long() {
		n = 1000
		t.Logf("SQLite under -race: %d keys, not 33,000, which take 20 s (run without -race, or with -torture)", n)
	}
	batch := make(map[string]any, n)
	keys := make([]string, 0, n)
	for i := range n {
		k := fmt.Sprintf("b:%06d", i)
		batch[k] = i
		keys = append(keys, k)
	}
	err := s.SetBatch(ctx, batch)
	if errors.Is(err, foxstore.ErrStorageInvalid) {
		t.Logf("SetBatch of %d keys refused: %v", n, err)
	} else if err != nil {
		t.Fatalf("SetBatch of %d keys: %v (want success, or ErrStorageInvalid)", n, err)
	} else {
		m, err := s.GetBatch(ctx, keys)
		if err != nil || len(m) != n {
			t.Errorf("GetBatch of %d keys = %d values, %v", n, len(m), err)
		}
		if c, err := s.Count(ctx, "b:*"); err != nil || c != n {
			t.Errorf("Count = %d, %v; want %d", c, err, n)
		}
		if err := s.DeleteBatch(ctx, keys); err != nil {
			t.Errorf("DeleteBatch of %d keys: %v", n, err)
		}
		if c, err := s.Count(ctx, "b:*"); err != nil || c != 0 {
			t.Errorf("Count after DeleteBatch = %d, %v; want 0", c, err)
		}
	}

	// 21 values of 1 MiB: each fits max_value_size, together they do not
	// fit a default MariaDB packet.
	one := strings.Repeat("p", 1<<20)
	big := map[string]any{}
	for i := range 21 {
		big[fmt.Sprintf("p:%02d", i)] = one
	}
	err = s.SetBatch(ctx, big)
	switch {
	case errors.Is(err, foxstore.ErrStorageInvalid):
		t.Logf("SetBatch of 21 MiB refused: %v", err)
	case err != nil:
		t.Errorf("SetBatch of 21 values of 1 MiB: %.300v (want success, or ErrStorageInvalid)", err)
	default:
		if c, err := s.Count(ctx, "p:*"); err != nil || c != len(big) {
			t.Errorf("Count after a 21 MiB SetBatch = %d, %v", c, err)
		}
		s.DeleteBatch(ctx, keysOf(big))
	}
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// hugePatterns tries patterns over pattern.MaxLen, and patterns at the
// limit built to make a backtracking matcher take exponential time, on keys
// built to trigger it.
func hugePatterns(t *testing.T, s foxstore.StoragePlugin) {
	ctx := t.Context()
	_, err := s.Keys(ctx, strings.Repeat("*", pattern.MaxLen+1))
	wantInvalid(t, "Keys of a pattern over the limit", err)
	_, err = s.Count(ctx, strings.Repeat("[a-z]", pattern.MaxLen))
	wantInvalid(t, "Count of a pattern over the limit", err)

	keys := map[string]any{}
	for i := range 20 {
		keys[fmt.Sprintf("%s%d", strings.Repeat("a", foxstore.MaxKeyLen-2), i)] = i
	}
	if err := s.SetBatch(ctx, keys); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		strings.Repeat("*a", pattern.MaxLen/2-1) + "b",
		"a" + strings.Repeat("*?", pattern.MaxLen/2-2) + "b",
		strings.Repeat("a*", 200) + strings.Repeat("[a-z]", 100) + "b",
		strings.Repeat("?", foxstore.MaxKeyLen) + "*b",
	} {
		if len(p) > pattern.MaxLen {
			p = p[:pattern.MaxLen]
		}
		done := make(chan struct{})
		var got []string
		var err error
		go func() {
			defer close(done)
			got, err = s.Keys(ctx, p)
		}()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			t.Fatalf("Keys(%.30q...) of a %d-byte pattern has not returned after 2 minutes: matching is not bounded", p, len(p))
		}
		if err != nil && !errors.Is(err, foxstore.ErrStorageInvalid) {
			t.Errorf("Keys(%.30q...): %v", p, err)
		}
		if len(got) != 0 {
			t.Errorf("Keys(%.30q...) = %d keys, want none", p, len(got))
		}
	}
	s.DeleteBatch(ctx, keysOf(keys))
}

// deepNamespaces nests views until the stored prefix is too long: the
// deepest ones must refuse every call, and none may crash.
func deepNamespaces(t *testing.T, s foxstore.StoragePlugin) {
	ctx := t.Context()
	v := s
	for i := range 5000 {
		v = foxstore.WithNamespace(v, "n")
		if i == 10 {
			if err := v.Set(ctx, "k", 1, 0); err != nil {
				t.Errorf("Set 11 namespaces deep: %v", err)
			}
		}
	}
	wantInvalid(t, "Set 5000 namespaces deep", v.Set(ctx, "k", 1, 0))
	_, err := v.Keys(ctx, "*")
	wantInvalid(t, "Keys 5000 namespaces deep", err)
	wantInvalid(t, "Update 5000 namespaces deep", foxstore.Update(ctx, v, func(tx foxstore.Transaction) error { return tx.Set("k", 1) }))
}

package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

func testCache(t *testing.T, s *suite) {
	s.run(t, "Stats", testStats)
	s.run(t, "CountersNeverDecrease", testCountersMonotonic)
	s.run(t, "ClearCacheKeepsData", testClearCacheKeepsData)
	s.run(t, "NeverStale", testNeverStale)
}

// testStats checks that every Get counts once, as a hit or a miss
// (CONTRACT §9), whatever the shape of its key: a front may serve keys of
// some lengths by a quicker path than others. Whether the first Get of a
// key counts as a hit depends on the backend (a read cache misses it);
// the second and third are hits everywhere, and a Get of a missing key a
// miss.
func testStats(t *testing.T, st store) {
	for _, k := range []string{"k", "user:00000001", "playlist:0000000000000001"} {
		first := stats(t, st)
		mustSet(t, st, k, 1)
		for range 3 {
			st.Get(t.Context(), k)
		}
		st.Get(t.Context(), k+"-missing")
		second := stats(t, st)
		wantNoDecrease(t, first, second, "reads")
		if second.Capacity != first.Capacity {
			t.Errorf("Capacity changed from %d to %d", first.Capacity, second.Capacity)
		}
		hits, misses := second.Hits-first.Hits, second.Misses-first.Misses
		if hits+misses != 4 || hits < 2 || misses < 1 {
			t.Errorf("four Gets of %q (three found, one not) counted %d hits and %d misses; want 4 in all, at least 2 hits and 1 miss",
				k, hits, misses)
		}
	}
}

// testCountersMonotonic checks that the cumulative counters never go down,
// whatever the store does (CONTRACT §9).
func testCountersMonotonic(t *testing.T, st store) {
	ctx := t.Context()
	prev := stats(t, st)
	step := func(what string, f func()) {
		t.Helper()
		f()
		cur := stats(t, st)
		wantNoDecrease(t, prev, cur, what)
		prev = cur
	}
	step("Set", func() {
		for i := range 20 {
			mustSet(t, st, fmt.Sprintf("k:%02d", i), i)
		}
	})
	step("Get hits", func() {
		for i := range 20 {
			st.Get(ctx, fmt.Sprintf("k:%02d", i))
		}
	})
	step("Get misses", func() {
		for i := range 5 {
			st.Get(ctx, fmt.Sprintf("missing:%d", i))
		}
	})
	step("Delete", func() { st.DeleteBatch(ctx, []string{"k:00", "k:01", "k:02"}) })
	step("expiry", func() {
		mustSetTTL(t, st, "short", 1, shortTTL)
		st.Get(ctx, "short")
		waitExpiry()
		st.Get(ctx, "short")
	})
	step("ClearCache", func() { noErr(t, st.ClearCache(ctx), "ClearCache") })
	step("reads after ClearCache", func() {
		for i := range 20 {
			st.Get(ctx, fmt.Sprintf("k:%02d", i))
		}
	})
}

// testClearCacheKeepsData checks that ClearCache never deletes live data on
// any backend (CONTRACT §9).
func testClearCacheKeepsData(t *testing.T, st store) {
	ctx := t.Context()
	want := map[string]any{}
	for i := range 30 {
		k := fmt.Sprintf("k:%02d", i)
		want[k] = i
		ttl := time.Duration(0)
		if i%3 == 0 {
			ttl = longTTL
		}
		mustSetTTL(t, st, k, i, ttl)
	}
	for k := range want {
		st.Get(ctx, k)
	}
	noErr(t, st.ClearCache(ctx), "ClearCache")
	for k, v := range want {
		wantValue(t, st, k, v)
	}
	wantFind(t, st, "*", want)
	noErr(t, st.ClearCache(ctx), "ClearCache")
	noErr(t, st.ClearCache(ctx), "ClearCache")
	if m, err := st.GetBatch(ctx, []string{"k:00", "k:29"}); noErr(t, err, "GetBatch") {
		wantMap(t, "GetBatch after ClearCache", m, map[string]any{"k:00": 0, "k:29": 29})
	}
}

// testNeverStale checks that a read never returns a value older than the
// last write made through the same store (CONTRACT §9), for every kind of
// write, with the old value read (and cached) just before.
func testNeverStale(t *testing.T, st store) {
	ctx := t.Context()
	warm := func(keys ...string) {
		for _, k := range keys {
			st.Get(ctx, k)
			st.Get(ctx, k)
		}
		st.GetBatch(ctx, keys)
	}

	mustSet(t, st, "set", 1)
	warm("set")
	mustSet(t, st, "set", 2)
	wantValue(t, st, "set", 2)

	warm("created")
	mustSet(t, st, "created", 1)
	wantValue(t, st, "created", 1)

	mustSet(t, st, "deleted", 1)
	warm("deleted")
	noErr(t, st.Delete(ctx, "deleted"), "Delete")
	wantMissing(t, st, "deleted")

	noErr(t, st.SetBatch(ctx, map[string]any{"b1": 1, "b2": 1}), "SetBatch")
	warm("b1", "b2", "b3")
	noErr(t, st.SetBatch(ctx, map[string]any{"b1": 2, "b2": 2, "b3": 2}), "SetBatch")
	if m, err := st.GetBatch(ctx, []string{"b1", "b2", "b3"}); noErr(t, err, "GetBatch") {
		wantMap(t, "GetBatch after SetBatch", m, map[string]any{"b1": 2, "b2": 2, "b3": 2})
	}
	warm("b1", "b2")
	noErr(t, st.DeleteBatch(ctx, []string{"b1", "b2"}), "DeleteBatch")
	wantMissing(t, st, "b1")
	wantMissing(t, st, "b2")

	mustSet(t, st, "tx", 1)
	mustSet(t, st, "tx-del", 1)
	warm("tx", "tx-del")
	tx := mustBegin(t, st)
	noErr(t, tx.Set("tx", 2), "tx.Set")
	noErr(t, tx.Delete("tx-del"), "tx.Delete")
	noErr(t, tx.Commit(), "Commit")
	wantValue(t, st, "tx", 2)
	wantMissing(t, st, "tx-del")

	mustSet(t, st, "expire", 1)
	warm("expire")
	noErr(t, st.Expire(ctx, "expire", shortTTL), "Expire")
	mustSetTTL(t, st, "ttl", 1, longTTL)
	warm("ttl")
	mustSetTTL(t, st, "ttl", 2, shortTTL)
	waitExpiry()
	wantMissing(t, st, "expire")
	wantMissing(t, st, "ttl")

	// Two views of the same namespace share the store, so they share its
	// freshness.
	v1 := foxstore.WithNamespace(st, "view")
	v2 := foxstore.WithNamespace(st, "view")
	mustSet(t, v1, "k", 1)
	wantValue(t, v2, "k", 1)
	mustSet(t, v2, "k", 2)
	wantValue(t, v1, "k", 2)
	noErr(t, v1.Delete(ctx, "k"), "Delete in a view")
	wantMissing(t, v2, "k")
}

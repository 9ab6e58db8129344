package storagetest

import (
	"fmt"
	"math"
	"testing"

	"github.com/foxstore/foxstore"
)

func testBatches(t *testing.T, s *suite) {
	s.run(t, "GetBatch", testGetBatch)
	s.run(t, "SetBatch", testSetBatch)
	s.run(t, "SetBatchAtomic", testSetBatchAtomic)
	s.run(t, "DeleteBatch", testDeleteBatch)
	s.run(t, "DeleteBatchAtomic", testDeleteBatchAtomic)
	s.run(t, "Empty", testEmptyBatches)
	s.run(t, "Large", testLargeBatch)
}

// testGetBatch checks that GetBatch returns found, live keys only, and that
// duplicate keys are fine (CONTRACT §6).
func testGetBatch(t *testing.T, st store) {
	ctx := t.Context()
	mustSet(t, st, "a", 1)
	mustSet(t, st, "b", "two")
	mustSet(t, st, "nil", nil)
	if !st.Exists(ctx, "nil") {
		t.Error("Exists = false for a key holding nil")
	}
	m, err := st.GetBatch(ctx, []string{"a", "b", "missing", "a", "nil", "b"})
	if noErr(t, err, "GetBatch") {
		wantMap(t, "GetBatch", m, map[string]any{"a": 1, "b": "two", "nil": nil})
	}
	m, err = st.GetBatch(ctx, []string{"missing", "other"})
	if noErr(t, err, "GetBatch of missing keys") && len(m) != 0 {
		t.Errorf("GetBatch of missing keys = %d entries, want none", len(m))
	}
	m, err = st.GetBatch(ctx, []string{"a"})
	if noErr(t, err, "GetBatch") {
		wantMap(t, "GetBatch", m, map[string]any{"a": 1})
	}
}

func testSetBatch(t *testing.T, st store) {
	ctx := t.Context()
	mustSet(t, st, "old", "before")
	want := map[string]any{"old": "after", "int": 1, "bytes": []byte{0, 1}, "nil": nil, "map": jsonForm(map[string]int{"x": 1})}
	noErr(t, st.SetBatch(ctx, map[string]any{"old": "after", "int": 1, "bytes": []byte{0, 1}, "nil": nil, "map": map[string]int{"x": 1}}), "SetBatch")
	for k, v := range want {
		wantValue(t, st, k, v)
	}
	wantFind(t, st, "*", want)
}

// testSetBatchAtomic checks that one bad key or value makes SetBatch write
// nothing (CONTRACT §6).
func testSetBatchAtomic(t *testing.T, st store) {
	ctx := t.Context()
	mustSet(t, st, "keep", "old")
	bad := []struct {
		name  string
		batch map[string]any
	}{
		{"empty key", map[string]any{"keep": "new", "fresh": 1, "": 2}},
		{"NUL in key", map[string]any{"keep": "new", "fresh": 1, "a\x00": 2}},
		{"invalid UTF-8 key", map[string]any{"keep": "new", "fresh": 1, "\xff": 2}},
		{"1025-byte key", map[string]any{"keep": "new", "fresh": 1, badKeys[1].key: 2}},
		{"channel value", map[string]any{"keep": "new", "fresh": 1, "bad": make(chan int)}},
		{"NaN value", map[string]any{"keep": "new", "fresh": 1, "bad": []float64{1, math.NaN()}}},
	}
	for _, b := range bad {
		wantCode(t, st.SetBatch(ctx, b.batch), foxstore.CodeInvalid, "SetBatch with %s", b.name)
		wantValue(t, st, "keep", "old")
		wantMissing(t, st, "fresh")
		wantMissing(t, st, "bad")
	}
	wantKeys(t, st, "*", []string{"keep"})
}

func testDeleteBatch(t *testing.T, st store) {
	ctx := t.Context()
	noErr(t, st.SetBatch(ctx, map[string]any{"a": 1, "b": 2, "c": 3}), "SetBatch")
	noErr(t, st.DeleteBatch(ctx, []string{"a", "missing", "b", "a"}), "DeleteBatch with missing and duplicate keys")
	wantMissing(t, st, "a")
	wantMissing(t, st, "b")
	wantValue(t, st, "c", 3)
	noErr(t, st.DeleteBatch(ctx, []string{"missing", "gone"}), "DeleteBatch of missing keys")
	noErr(t, st.Delete(ctx, "missing"), "Delete of a missing key")
	noErr(t, st.Delete(ctx, "c"), "Delete")
	noErr(t, st.Delete(ctx, "c"), "second Delete")
	wantKeys(t, st, "*", nil)
}

// testDeleteBatchAtomic checks that one bad key makes DeleteBatch delete
// nothing.
func testDeleteBatchAtomic(t *testing.T, st store) {
	ctx := t.Context()
	noErr(t, st.SetBatch(ctx, map[string]any{"a": 1, "b": 2}), "SetBatch")
	for _, bk := range badKeys {
		wantCode(t, st.DeleteBatch(ctx, []string{"a", bk.key, "b"}), foxstore.CodeInvalid, "DeleteBatch with key %s", bk.name)
	}
	wantValue(t, st, "a", 1)
	wantValue(t, st, "b", 2)
}

func testEmptyBatches(t *testing.T, st store) {
	ctx := t.Context()
	mustSet(t, st, "k", 1)
	noErr(t, st.SetBatch(ctx, nil), "SetBatch(nil)")
	noErr(t, st.SetBatch(ctx, map[string]any{}), "SetBatch of an empty map")
	noErr(t, st.DeleteBatch(ctx, nil), "DeleteBatch(nil)")
	noErr(t, st.DeleteBatch(ctx, []string{}), "DeleteBatch of no keys")
	for _, keys := range [][]string{nil, {}} {
		m, err := st.GetBatch(ctx, keys)
		if noErr(t, err, "GetBatch of no keys") && len(m) != 0 {
			t.Errorf("GetBatch of no keys = %d entries", len(m))
		}
	}
	wantKeys(t, st, "*", []string{"k"})
}

func testLargeBatch(t *testing.T, st store) {
	ctx := t.Context()
	n := 500
	if testing.Short() {
		n = 100
	}
	batch := make(map[string]any, n)
	keys := make([]string, 0, n)
	for i := range n {
		k := fmt.Sprintf("large:%04d", i)
		batch[k] = i
		keys = append(keys, k)
	}
	noErr(t, st.SetBatch(ctx, batch), "SetBatch of %d keys", n)
	wantKeys(t, st, "large:*", keys)
	if m, err := st.GetBatch(ctx, keys); noErr(t, err, "GetBatch of %d keys", n) {
		wantMap(t, "GetBatch", m, batch)
	}
	noErr(t, st.DeleteBatch(ctx, keys), "DeleteBatch of %d keys", n)
	wantKeys(t, st, "*", nil)
}

package storagetest

import (
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

func testNamespaces(t *testing.T, s *suite) {
	s.run(t, "Private", testNSPrivate)
	s.run(t, "NoCollision", testNSNoCollision)
	s.run(t, "Patterns", testNSPatterns)
	s.run(t, "EncodedFormHidden", testNSEncodedFormHidden)
	s.run(t, "Nested", testNSNested)
	t.Run("InvalidNames", func(t *testing.T) {
		for _, bk := range badKeys {
			s.run(t, bk.name, func(t *testing.T, st store) { checkBadNamespace(t, st, bk.key) })
		}
	})
	s.run(t, "LongNames", testNSLongNames)
	s.run(t, "Values", func(t *testing.T, st store) {
		checkRoundTrip(t, foxstore.WithNamespace(st, "vals"), nativeValues())
	})
	s.run(t, "Batches", testNSBatches)
	s.run(t, "Transactions", testNSTransactions)
	s.run(t, "TTL", testNSTTL)
	s.run(t, "StoreWide", testNSStoreWide)
}

func view(t testing.TB, st foxstore.StoragePlugin, ns string) foxstore.StoragePlugin {
	t.Helper()
	v := foxstore.WithNamespace(st, ns)
	if v == nil {
		t.Fatalf("WithNamespace(%s) returned nil", q(ns))
	}
	return v
}

// testNSPrivate checks that a view's keys are private both ways (CONTRACT §13).
func testNSPrivate(t *testing.T, st store) {
	ctx := t.Context()
	a, b := view(t, st, "a"), view(t, st, "b")
	mustSet(t, a, "k", "in a")
	mustSet(t, b, "k", "in b")
	mustSet(t, st, "k", "in base")
	mustSet(t, a, "only-a", 1)
	mustSet(t, st, "only-base", 2)

	wantValue(t, a, "k", "in a")
	wantValue(t, b, "k", "in b")
	wantValue(t, st, "k", "in base")
	wantMissing(t, st, "only-a")
	wantMissing(t, b, "only-a")
	wantMissing(t, a, "only-base")
	wantKeys(t, st, "*", []string{"k", "only-base"})
	wantFind(t, st, "*", map[string]any{"k": "in base", "only-base": 2})
	wantKeys(t, a, "*", []string{"k", "only-a"})
	wantFind(t, a, "*", map[string]any{"k": "in a", "only-a": 1})
	wantKeys(t, b, "*", []string{"k"})

	noErr(t, a.Delete(ctx, "k"), "Delete in a view")
	wantMissing(t, a, "k")
	wantValue(t, b, "k", "in b")
	wantValue(t, st, "k", "in base")
	noErr(t, st.Delete(ctx, "only-base"), "Delete")
	wantValue(t, a, "only-a", 1)

	_, err := a.Get(ctx, "user:1")
	wantCode(t, err, foxstore.CodeNotFound, "Get of a missing key in a view")
	if err != nil && (strings.ContainsAny(err.Error(), "\x00\xff") || strings.Contains(err.Error(), `\x00`) || strings.Contains(err.Error(), `\xff`)) {
		t.Errorf("the error of a view shows the encoded key: %q", err)
	}
	if _, err := foxstore.GetAs[int](ctx, a, "only-a"); err != nil {
		t.Errorf("GetAs in a view: %v", err)
	}
}

// testNSNoCollision checks that no key crosses a namespace boundary:
// namespace "a" with key "b:y" never reaches namespace "a:b" with key "y".
func testNSNoCollision(t *testing.T, st store) {
	a := view(t, st, "a")
	views := []struct {
		name string
		v    foxstore.StoragePlugin
		key  string
	}{
		{"base", st, "a:b:y"},
		{`"a"`, a, "b:y"},
		{`"a:b"`, view(t, st, "a:b"), "y"},
		{`"a:"`, view(t, st, "a:"), "b:y"},
		{`"a" then "b"`, view(t, a, "b"), "y"},
		{`"a" then "b:y"`, view(t, a, "b:y"), "y"},
		{`"a/b"`, view(t, st, "a/b"), "y"},
		{`"a" key "b/y"`, view(t, st, "a"), "b/y"},
		{`"ab"`, view(t, st, "ab"), "y"},
		{`"a b"`, view(t, st, "a b"), "y"},
	}
	for _, v := range views {
		mustSet(t, v.v, v.key, "from "+v.name)
	}
	for _, v := range views {
		if v.name == `"a" key "b/y"` {
			continue // same view as "a"
		}
		want := []string{v.key}
		if v.name == `"a"` {
			want = []string{"b/y", "b:y"}
		}
		wantKeys(t, v.v, "*", want)
		wantValue(t, v.v, v.key, "from "+v.name)
	}
	wantValue(t, a, "b/y", `from "a" key "b/y"`)
}

// testNSPatterns checks that patterns in a view never reach outside it, and
// patterns on the base store never reach into views.
func testNSPatterns(t *testing.T, st store) {
	ctx := t.Context()
	a := view(t, st, "a")
	for _, k := range []string{"a", "ab", "b1", "a:b1"} {
		mustSet(t, st, k, "base "+k)
	}
	for _, k := range []string{"b1", "b2", "c"} {
		mustSet(t, a, k, "a "+k)
	}
	mustSet(t, view(t, a, "b"), "1", "nested")

	wantKeys(t, a, "*", []string{"b1", "b2", "c"})
	wantKeys(t, a, "b*", []string{"b1", "b2"})
	wantKeys(t, a, "?", []string{"c"})
	wantKeys(t, a, "??", []string{"b1", "b2"})
	wantKeys(t, a, "a*", nil)
	wantKeys(t, a, "*a*", nil)
	wantKeys(t, a, "*:*", nil)
	wantKeys(t, a, "b1", []string{"b1"})
	wantFind(t, a, "b*", map[string]any{"b1": "a b1", "b2": "a b2"})

	wantKeys(t, st, "*", []string{"a", "ab", "b1", "a:b1"})
	wantKeys(t, st, "a*", []string{"a", "ab", "a:b1"})
	wantKeys(t, st, "b*", []string{"b1"})
	wantKeys(t, st, "*1", []string{"b1", "a:b1"})
	wantKeys(t, st, "c", nil)
	for _, p := range malformedPatterns {
		_, err := a.Keys(ctx, p)
		wantCode(t, err, foxstore.CodeInvalid, "Keys(%s) in a view", q(p))
	}
}

// testNSEncodedFormHidden checks that the base store never shows a view's
// keys in their encoded form, through any method (CONTRACT §13), even to
// patterns that could only match an encoding.
func testNSEncodedFormHidden(t *testing.T, st store) {
	ctx := t.Context()
	for _, ns := range []string{"a", "b", "a:b"} {
		v := view(t, st, ns)
		mustSet(t, v, "k", ns)
		mustSet(t, view(t, v, "n"), "k", ns+"/n")
	}
	mustSet(t, st, "k", "base")

	wantKeys(t, st, "*", []string{"k"})
	wantFind(t, st, "*", map[string]any{"k": "base"})
	onlyKey(t, st, "the base store")
	// A view's patterns cannot reach its nested views either.
	onlyKey(t, view(t, st, "a"), `view "a"`)
	for _, k := range []string{"a:k", "a/k", "a.k", "ak", "a k", "a::k", "a:n:k", "\u00ffa\u0000k"} {
		if st.Exists(ctx, k) {
			t.Errorf("Exists(%s) on the base store = true: it reached a view's key", q(k))
		}
	}
	noErr(t, st.DeleteBatch(ctx, []string{"k", "a:k", "a/k"}), "DeleteBatch")
	wantValue(t, view(t, st, "a"), "k", "a")
	wantKeys(t, st, "*", nil)
}

// onlyKey checks that no pattern, however odd, shows v any key but "k",
// the only key v holds itself. Patterns that no valid key can match may be
// refused instead.
func onlyKey(t *testing.T, v foxstore.StoragePlugin, name string) {
	t.Helper()
	ctx := t.Context()
	for _, p := range []string{"*", "?*", "*k", "*a*", "*n*", "[^k]*", "*\x00*", "\xff*", "*\xff*", "\xffn*", "[\xff]*", "[\x00-\U0010FFFF]*"} {
		keys, err := v.Keys(ctx, p)
		if err != nil {
			wantCode(t, err, foxstore.CodeInvalid, "Keys(%s) on %s", q(p), name)
			continue
		}
		for _, k := range keys {
			if k != "k" {
				t.Errorf("Keys(%s) on %s shows %s, a key of another namespace", q(p), name, q(k))
			}
		}
		if m, err := v.Find(ctx, p); err == nil {
			for k := range m {
				if k != "k" {
					t.Errorf("Find(%s) on %s shows %s, a key of another namespace", q(p), name, q(k))
				}
			}
		}
	}
}

// testNSNested checks that nested views are isolated from their parent,
// from the base store and from a flat namespace that looks the same.
func testNSNested(t *testing.T, st store) {
	a := view(t, st, "a")
	ab := view(t, a, "b")
	abc := view(t, ab, "c")
	mustSet(t, st, "k", "base")
	mustSet(t, a, "k", "a")
	mustSet(t, ab, "k", "a/b")
	mustSet(t, abc, "k", "a/b/c")
	mustSet(t, ab, "only", 1)

	wantValue(t, st, "k", "base")
	wantValue(t, a, "k", "a")
	wantValue(t, ab, "k", "a/b")
	wantValue(t, abc, "k", "a/b/c")
	wantMissing(t, a, "only")
	wantMissing(t, st, "only")
	wantMissing(t, abc, "only")
	wantMissing(t, view(t, st, "b"), "k")
	wantKeys(t, st, "*", []string{"k"})
	wantKeys(t, a, "*", []string{"k"})
	wantKeys(t, ab, "*", []string{"k", "only"})
	wantKeys(t, abc, "*", []string{"k"})
	// Another handle on the same nested namespace sees the same keys.
	wantValue(t, view(t, view(t, st, "a"), "b"), "only", 1)
	noErr(t, a.Delete(t.Context(), "k"), "Delete")
	wantValue(t, ab, "k", "a/b")
}

// checkBadNamespace checks that a view whose name breaks the key rules
// fails every operation with ErrStorageInvalid and writes nothing.
func checkBadNamespace(t *testing.T, st store, ns string) {
	ctx := t.Context()
	mustSet(t, st, "k", "base")
	for _, c := range []struct {
		name string
		v    foxstore.StoragePlugin
	}{
		{"view", view(t, st, ns)},
		{"valid view inside it", view(t, view(t, st, ns), "ok")},
		{"view inside a valid one", view(t, view(t, st, "ok"), ns)},
	} {
		v := c.v
		invalid := func(op string, err error) {
			t.Helper()
			wantCode(t, err, foxstore.CodeInvalid, "%s in a %s with namespace %s", op, c.name, q(ns))
		}
		invalid("Set", v.Set(ctx, "k", "v", 0))
		_, err := v.Get(ctx, "k")
		invalid("Get", err)
		_, err = foxstore.GetAs[string](ctx, v, "k")
		invalid("GetAs", err)
		invalid("Delete", v.Delete(ctx, "k"))
		if v.Exists(ctx, "k") {
			t.Errorf("Exists in a %s with namespace %s = true", c.name, q(ns))
		}
		_, err = v.GetBatch(ctx, []string{"k"})
		invalid("GetBatch", err)
		invalid("SetBatch", v.SetBatch(ctx, map[string]any{"k": 1}))
		invalid("DeleteBatch", v.DeleteBatch(ctx, []string{"k"}))
		_, err = v.Find(ctx, "*")
		invalid("Find", err)
		_, err = v.Count(ctx, "*")
		invalid("Count", err)
		_, err = v.Keys(ctx, "*")
		invalid("Keys", err)
		tx, err := v.BeginTransaction(ctx)
		if err == nil {
			// Refusing at BeginTransaction is clearest, but the view's
			// transaction may refuse each key instead.
			_, err = tx.Get("k")
			invalid("tx.Get", err)
			invalid("tx.Set", tx.Set("k", 1))
			tx.Commit()
		} else {
			invalid("BeginTransaction", err)
		}
		invalid("Update", foxstore.Update(ctx, v, func(tx foxstore.Transaction) error { return tx.Set("k", 1) }))
		if e, ok := v.(foxstore.Expirer); ok {
			_, err = e.TTL(ctx, "k")
			invalid("TTL", err)
			invalid("Expire", e.Expire(ctx, "k", time.Minute))
		}
	}
	wantKeys(t, st, "*", []string{"k"})
	wantValue(t, st, "k", "base")
}

// testNSLongNames checks a namespace name of 1024 bytes, with a key of 1024
// bytes in it.
func testNSLongNames(t *testing.T, st store) {
	ctx := t.Context()
	for _, gk := range goodLongKeys[:3] {
		v := view(t, st, gk.key)
		long := strings.Repeat("k", 1024)
		mustSet(t, v, long, gk.name)
		mustSet(t, v, "short", gk.name)
		wantValue(t, v, long, gk.name)
		wantKeys(t, v, "*", []string{long, "short"})
		wantKeys(t, st, "*", nil)
		noErr(t, v.DeleteBatch(ctx, []string{long, "short"}), "DeleteBatch")
		wantKeys(t, v, "*", nil)
	}
}

func testNSBatches(t *testing.T, st store) {
	ctx := t.Context()
	a := view(t, st, "a")
	mustSet(t, st, "x", "base")
	noErr(t, a.SetBatch(ctx, map[string]any{"x": 1, "y": 2}), "SetBatch in a view")
	if m, err := st.GetBatch(ctx, []string{"x", "y"}); noErr(t, err, "GetBatch") {
		wantMap(t, "GetBatch on the base store", m, map[string]any{"x": "base"})
	}
	if m, err := a.GetBatch(ctx, []string{"x", "y", "z", "x"}); noErr(t, err, "GetBatch in a view") {
		wantMap(t, "GetBatch in a view", m, map[string]any{"x": 1, "y": 2})
	}
	noErr(t, a.DeleteBatch(ctx, []string{"x", "missing"}), "DeleteBatch in a view")
	wantValue(t, st, "x", "base")
	wantMissing(t, a, "x")
	wantValue(t, a, "y", 2)
	wantCode(t, a.SetBatch(ctx, map[string]any{"z": 1, "": 2}), foxstore.CodeInvalid, "SetBatch with an empty key in a view")
	wantMissing(t, a, "z")
	noErr(t, st.DeleteBatch(ctx, []string{"x", "y"}), "DeleteBatch on the base store")
	wantValue(t, a, "y", 2)
}

// testNSTransactions checks that a transaction in a view reads and writes
// only the view's keys.
func testNSTransactions(t *testing.T, st store) {
	ctx := t.Context()
	a := view(t, st, "a")
	mustSet(t, st, "k", "base")
	mustSet(t, st, "gone", "base")

	tx := mustBegin(t, a)
	txWantMissing(t, tx, "k")
	noErr(t, tx.Delete("gone"), "tx.Delete in a view")
	noErr(t, tx.Set("k", "a"), "tx.Set in a view")
	noErr(t, tx.Set("n", 1), "tx.Set in a view")
	txWant(t, tx, "k", "a")
	noErr(t, tx.Commit(), "Commit in a view")
	wantValue(t, st, "k", "base")
	wantValue(t, st, "gone", "base")
	wantMissing(t, st, "n")
	wantValue(t, a, "k", "a")
	wantValue(t, a, "n", 1)

	tx = mustBegin(t, a)
	noErr(t, tx.Delete("k"), "tx.Delete in a view")
	noErr(t, tx.Commit(), "Commit in a view")
	wantValue(t, st, "k", "base")
	wantMissing(t, a, "k")

	base := mustBegin(t, st)
	txWantMissing(t, base, "n")
	noErr(t, base.Rollback(), "Rollback")

	err := foxstore.Update(ctx, a, func(tx foxstore.Transaction) error {
		v, err := tx.Get("n")
		if err != nil {
			return err
		}
		n, err := asInt(v)
		if err != nil {
			return err
		}
		return tx.Set("n", n+1)
	})
	noErr(t, err, "Update in a view")
	wantValue(t, a, "n", 2)
	wantMissing(t, st, "n")
}

func testNSTTL(t *testing.T, st store) {
	ctx := t.Context()
	a := view(t, st, "a")
	mustSet(t, st, "k", "base")
	mustSetTTL(t, a, "k", "a", shortTTL)
	mustSetTTL(t, a, "live", "a", longTTL)
	if e, ok := a.(foxstore.Expirer); ok {
		if d, err := e.TTL(ctx, "live"); noErr(t, err, "TTL in a view") {
			wantRemaining(t, "TTL in a view", d, longTTL)
		}
		_, err := e.TTL(ctx, "missing")
		wantCode(t, err, foxstore.CodeNotFound, "TTL of a missing key in a view")
		noErr(t, e.Expire(ctx, "live", 0), "Expire in a view")
		wantCode(t, e.Expire(ctx, "only-in-base", time.Minute), foxstore.CodeNotFound, "Expire in a view of a key only the base store has")
	}
	mustSet(t, st, "only-in-base", 1)
	waitExpiry()
	wantMissing(t, a, "k")
	wantValue(t, a, "live", "a")
	wantValue(t, st, "k", "base")
	if d, err := st.TTL(ctx, "only-in-base"); noErr(t, err, "TTL") && d != 0 {
		t.Errorf("TTL of a base key = %v, want 0", d)
	}
}

// testNSStoreWide checks that statistics and ClearCache stay store-wide and
// that ClearCache through a view deletes no live data.
func testNSStoreWide(t *testing.T, st store) {
	ctx := t.Context()
	a := view(t, st, "a")
	mustSet(t, a, "k", 1)
	mustSet(t, st, "k", 2)
	st.Get(ctx, "k")
	a.Get(ctx, "k")
	a.Get(ctx, "missing")
	before := stats(t, st)
	if inView := stats(t, a); inView != before {
		t.Errorf("GetCacheStats in a view = %+v, want the store-wide figures %+v", inView, before)
	}
	noErr(t, a.ClearCache(ctx), "ClearCache in a view")
	wantValue(t, a, "k", 1)
	wantValue(t, st, "k", 2)
	wantNoDecrease(t, before, stats(t, st), "ClearCache in a view")
}

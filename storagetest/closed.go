package storagetest

import (
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

func testClosed(t *testing.T, s *suite) {
	s.run(t, "AfterClose", testAfterClose)
	s.run(t, "AfterStop", testAfterStop)
}

// checkClosed checks that every data operation fails with ErrStorageClosed
// and Exists says false (CONTRACT §1).
func checkClosed(t *testing.T, st store, when string) {
	t.Helper()
	ctx := t.Context()
	closed := func(op string, err error) {
		t.Helper()
		wantCode(t, err, foxstore.CodeClosed, "%s %s", op, when)
	}
	_, err := st.Get(ctx, "k")
	closed("Get", err)
	_, err = foxstore.GetAs[string](ctx, st, "k")
	closed("GetAs", err)
	closed("Set", st.Set(ctx, "k", "v", 0))
	closed("Delete", st.Delete(ctx, "k"))
	if st.Exists(ctx, "k") {
		t.Errorf("Exists %s = true, want false", when)
	}
	_, err = st.GetBatch(ctx, []string{"k"})
	closed("GetBatch", err)
	closed("SetBatch", st.SetBatch(ctx, map[string]any{"k": 1}))
	closed("DeleteBatch", st.DeleteBatch(ctx, []string{"k"}))
	_, err = st.Find(ctx, "*")
	closed("Find", err)
	_, err = st.Count(ctx, "*")
	closed("Count", err)
	_, err = st.Keys(ctx, "*")
	closed("Keys", err)
	tx, err := st.BeginTransaction(ctx)
	closed("BeginTransaction", err)
	if err == nil && tx != nil {
		tx.Rollback()
	}
	closed("Update", foxstore.Update(ctx, st, func(tx foxstore.Transaction) error { return tx.Set("k", 1) }))
	_, err = st.TTL(ctx, "k")
	closed("TTL", err)
	closed("Expire", st.Expire(ctx, "k", time.Minute))
	closed("ClearCache", st.ClearCache(ctx))
}

func testAfterClose(t *testing.T, st store) {
	mustSet(t, st, "k", "v")
	open := mustBegin(t, st)
	noErr(t, open.Set("k", "from an open transaction"), "tx.Set")
	noErr(t, st.Close(), "Close")
	checkClosed(t, st, "after Close")
	// Whatever a backend does with a transaction left open over Close, its
	// Commit cannot succeed.
	if err := open.Commit(); err == nil {
		t.Error("Commit of a transaction left open over Close returned nil")
	}
	open.Rollback()
	noErr(t, st.Close(), "second Close")
	checkClosed(t, st, "after a second Close")
}

func testAfterStop(t *testing.T, st store) {
	mustSet(t, st, "k", "v")
	noErr(t, st.Stop(t.Context()), "Stop")
	checkClosed(t, st, "after Stop")
	noErr(t, st.Cleanup(t.Context()), "Cleanup after Stop")
	checkClosed(t, st, "after Cleanup")
}

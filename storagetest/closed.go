package storagetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

func testClosed(t *testing.T, s *suite) {
	s.run(t, "AfterClose", testAfterClose)
	s.run(t, "AfterStop", testAfterStop)
	s.run(t, "CloseDuringWork", testCloseDuringWork)
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
	for _, k := range closedKeys {
		_, err := st.Get(ctx, k)
		closed("Get "+k, err)
		_, err = foxstore.GetAs[string](ctx, st, k)
		closed("GetAs "+k, err)
		closed("Set "+k, st.Set(ctx, k, "v", 0))
		closed("Delete "+k, st.Delete(ctx, k))
		if st.Exists(ctx, k) {
			t.Errorf("Exists %s %s = true, want false", k, when)
		}
		_, err = st.TTL(ctx, k)
		closed("TTL "+k, err)
		closed("Expire "+k, st.Expire(ctx, k, time.Minute))
	}
	_, err := st.GetBatch(ctx, []string{"k"})
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
	closed("ClearCache", st.ClearCache(ctx))
}

// closedKeys are the keys checkClosed tries, each stored before the store
// is closed: a short one, and one of the commonest shape (8 to 16 bytes of
// ASCII), which a front may serve by a quicker path than others.
var closedKeys = []string{"k", "user:00000001"}

func setClosedKeys(t *testing.T, st store) {
	t.Helper()
	for _, k := range closedKeys {
		mustSet(t, st, k, "v")
	}
}

func testAfterClose(t *testing.T, st store) {
	setClosedKeys(t, st)
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
	setClosedKeys(t, st)
	noErr(t, st.Stop(t.Context()), "Stop")
	checkClosed(t, st, "after Stop")
	noErr(t, st.Cleanup(t.Context()), "Cleanup after Stop")
	checkClosed(t, st, "after Cleanup")
}

// testCloseDuringWork closes the store while goroutines use it: nothing may
// panic, race or hang, every error must be a coded foxstore error, and once
// Close has returned every operation fails with ErrStorageClosed.
func testCloseDuringWork(t *testing.T, st store) {
	ctx := t.Context()
	mustSet(t, st, "k", 0)
	var problems sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			key := fmt.Sprintf("w%d", w)
			check := func(op string, err error) {
				switch foxstore.CodeOf(err) {
				case 0:
					if err != nil {
						problems.Store(fmt.Sprintf("%s racing with Close: %v carries no code", op, err), true)
					}
				case foxstore.CodeNotFound, foxstore.CodeConflict, foxstore.CodeClosed,
					foxstore.CodeReadFailed, foxstore.CodeWriteFailed, foxstore.CodeTxDone:
				default:
					problems.Store(fmt.Sprintf("%s racing with Close: unexpected %v", op, err), true)
				}
			}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				check("Set", st.Set(ctx, key, i, 0))
				_, err := st.Get(ctx, key)
				check("Get", err)
				_, err = st.Keys(ctx, "*")
				check("Keys", err)
				check("SetBatch", st.SetBatch(ctx, map[string]any{key: i, key + "b": i}))
				if tx, err := st.BeginTransaction(ctx); err != nil {
					check("BeginTransaction", err)
				} else {
					_, err := tx.Get("k")
					check("tx.Get", err)
					check("tx.Set", tx.Set(key, i))
					check("Commit", tx.Commit())
					check("Rollback", tx.Rollback())
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- st.Close() }()
	select {
	case err := <-closed:
		noErr(t, err, "Close while goroutines use the store")
	case <-time.After(raceTimeout):
		close(stop)
		t.Fatalf("Close did not return within %v while goroutines used the store", raceTimeout)
	}
	checkClosed(t, st, "after a Close that raced with other goroutines")
	close(stop)
	wg.Wait()
	problems.Range(func(k, _ any) bool {
		t.Error(k)
		return true
	})
}

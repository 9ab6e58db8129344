package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

// overlapWait bounds how long a transaction in a race waits for its rival to
// catch up. Backends that make the rival wait for a lock never let it catch
// up; the wait then just ends, and both behaviours pass.
const overlapWait = time.Second

// raceTimeout bounds a test that might block: a backend may make a
// transaction wait for another, bounded by ctx (CONTRACT §7).
const raceTimeout = 10 * time.Second

func testTransactions(t *testing.T, s *suite) {
	s.run(t, "ReadYourWrites", testReadYourWrites)
	s.run(t, "Isolation", testIsolation)
	s.run(t, "CommitAppliesAll", testCommitAppliesAll)
	s.run(t, "Rollback", testRollback)
	s.run(t, "DoneAfterCommit", testDoneAfterCommit)
	s.run(t, "DoneAfterRollback", testDoneAfterRollback)
	s.run(t, "ContextCanceled", testTxContextCanceled)
	s.run(t, "ContextDeadline", testTxContextDeadline)
	s.run(t, "OpenTxDoesNotBlockReads", testOpenTxDoesNotBlockReads)
	s.run(t, "Conflict", testConflict)
	s.run(t, "WriteSkew", testWriteSkew)
	s.run(t, "RereadAfterOutsideChange", testRereadAfterOutsideChange)
	s.run(t, "ExpiryBetweenReads", testExpiryBetweenReads)
	s.run(t, "ExpiryBeforeCommit", testExpiryBeforeCommit)
	t.Run("SingleOpDuringTx", func(t *testing.T) {
		for _, v := range singleOps {
			s.run(t, v.name, func(t *testing.T, st store) { testSingleOpDuringTx(t, st, v) })
		}
	})
	s.run(t, "Update", testUpdate)
	s.run(t, "UpdateRetriesConflicts", testUpdateRetries)
	s.run(t, "UpdateFnError", testUpdateFnError)
}

// txWant reports a test error unless tx.Get(key) returns want.
func txWant(t testing.TB, tx foxstore.Transaction, key string, want any) {
	t.Helper()
	got, err := tx.Get(key)
	if !noErr(t, err, "tx.Get(%s)", q(key)) {
		return
	}
	if p := sameValue(want, got); p != "" {
		t.Errorf("tx.Get(%s): %s", q(key), p)
	}
}

// txWantMissing reports a test error unless tx.Get(key) gives ErrStorageNotFound.
func txWantMissing(t testing.TB, tx foxstore.Transaction, key string) {
	t.Helper()
	got, err := tx.Get(key)
	if err == nil {
		t.Errorf("tx.Get(%s) = %s, want ErrStorageNotFound", q(key), describe(got))
		return
	}
	wantCode(t, err, foxstore.CodeNotFound, "tx.Get(%s)", q(key))
}

func testReadYourWrites(t *testing.T, st store) {
	mustSet(t, st, "base", 1)
	mustSet(t, st, "gone", "x")
	tx := mustBegin(t, st)
	defer tx.Rollback()
	txWant(t, tx, "base", 1)
	noErr(t, tx.Set("new", "n"), "tx.Set")
	txWant(t, tx, "new", "n")
	noErr(t, tx.Set("base", 2), "tx.Set")
	txWant(t, tx, "base", 2)
	noErr(t, tx.Delete("gone"), "tx.Delete")
	txWantMissing(t, tx, "gone")
	noErr(t, tx.Delete("new"), "tx.Delete")
	txWantMissing(t, tx, "new")
	noErr(t, tx.Set("new", "again"), "tx.Set after tx.Delete")
	txWant(t, tx, "new", "again")
	noErr(t, tx.Delete("missing"), "tx.Delete of a missing key")
	txWantMissing(t, tx, "missing")
	noErr(t, tx.Commit(), "Commit")

	wantValue(t, st, "base", 2)
	wantMissing(t, st, "gone")
	wantValue(t, st, "new", "again")
	wantKeys(t, st, "*", []string{"base", "new"})
}

// testIsolation checks that no other reader, plain or in a transaction, sees
// uncommitted writes (CONTRACT §7).
func testIsolation(t *testing.T, st store) {
	ctx := t.Context()
	mustSet(t, st, "k", "old")
	mustSet(t, st, "del", "here")
	tx := mustBegin(t, st)
	defer tx.Rollback()
	noErr(t, tx.Set("k", "new"), "tx.Set")
	noErr(t, tx.Set("added", 1), "tx.Set")
	noErr(t, tx.Delete("del"), "tx.Delete")

	before := map[string]any{"k": "old", "del": "here"}
	wantValue(t, st, "k", "old")
	wantValue(t, st, "del", "here")
	wantMissing(t, st, "added")
	wantKeys(t, st, "*", []string{"del", "k"})
	wantFind(t, st, "*", before)
	if m, err := st.GetBatch(ctx, []string{"k", "del", "added"}); noErr(t, err, "GetBatch") {
		wantMap(t, "GetBatch during another transaction", m, before)
	}
	other := mustBegin(t, st)
	txWant(t, other, "k", "old")
	txWant(t, other, "del", "here")
	txWantMissing(t, other, "added")
	noErr(t, other.Rollback(), "Rollback")

	noErr(t, tx.Commit(), "Commit")
	after := map[string]any{"k": "new", "added": 1}
	wantFind(t, st, "*", after)
	wantMissing(t, st, "del")
}

func testCommitAppliesAll(t *testing.T, st store) {
	ctx := t.Context()
	old := map[string]any{}
	for i := range 5 {
		old[fmt.Sprintf("old:%d", i)] = i
	}
	noErr(t, st.SetBatch(ctx, old), "SetBatch")
	tx := mustBegin(t, st)
	want := map[string]any{}
	for i := range 20 {
		k := fmt.Sprintf("new:%02d", i)
		noErr(t, tx.Set(k, i), "tx.Set")
		want[k] = i
	}
	for k := range old {
		noErr(t, tx.Delete(k), "tx.Delete")
	}
	noErr(t, tx.Set("old:2", "rewritten"), "tx.Set")
	want["old:2"] = "rewritten"
	noErr(t, tx.Commit(), "Commit")
	wantFind(t, st, "*", want)
}

func testRollback(t *testing.T, st store) {
	mustSet(t, st, "k", "old")
	tx := mustBegin(t, st)
	noErr(t, tx.Set("k", "new"), "tx.Set")
	noErr(t, tx.Set("added", 1), "tx.Set")
	noErr(t, tx.Rollback(), "Rollback")
	wantValue(t, st, "k", "old")
	wantMissing(t, st, "added")

	tx = mustBegin(t, st)
	noErr(t, tx.Delete("k"), "tx.Delete")
	noErr(t, tx.Rollback(), "Rollback")
	wantValue(t, st, "k", "old")
}

// checkDone checks that every method of an ended transaction fails with
// ErrStorageTxDone, except Rollback, which returns nil (CONTRACT §7).
func checkDone(t testing.TB, tx foxstore.Transaction, when string) {
	t.Helper()
	_, err := tx.Get("k")
	wantCode(t, err, foxstore.CodeTxDone, "tx.Get %s", when)
	wantCode(t, tx.Set("k", "late"), foxstore.CodeTxDone, "tx.Set %s", when)
	wantCode(t, tx.Set("late", 1), foxstore.CodeTxDone, "tx.Set %s", when)
	wantCode(t, tx.Delete("k"), foxstore.CodeTxDone, "tx.Delete %s", when)
	wantCode(t, tx.Commit(), foxstore.CodeTxDone, "tx.Commit %s", when)
	noErr(t, tx.Rollback(), "tx.Rollback %s", when)
	noErr(t, tx.Rollback(), "second tx.Rollback %s", when)
	wantCode(t, tx.Commit(), foxstore.CodeTxDone, "tx.Commit after Rollback %s", when)
}

func testDoneAfterCommit(t *testing.T, st store) {
	tx := mustBegin(t, st)
	noErr(t, tx.Set("k", 1), "tx.Set")
	noErr(t, tx.Commit(), "Commit")
	checkDone(t, tx, "after Commit")
	wantValue(t, st, "k", 1)
	wantMissing(t, st, "late")

	empty := mustBegin(t, st)
	noErr(t, empty.Commit(), "Commit of an empty transaction")
	checkDone(t, empty, "after an empty Commit")
}

func testDoneAfterRollback(t *testing.T, st store) {
	tx := mustBegin(t, st)
	noErr(t, tx.Set("k", 1), "tx.Set")
	noErr(t, tx.Rollback(), "Rollback")
	checkDone(t, tx, "after Rollback")
	wantMissing(t, st, "k")
	wantMissing(t, st, "late")
}

// testTxContextCanceled checks that a transaction whose ctx ends before
// Commit applies nothing (CONTRACT §7).
func testTxContextCanceled(t *testing.T, st store) {
	mustSet(t, st, "k", "old")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	tx, err := st.BeginTransaction(ctx)
	if err != nil {
		t.Fatalf("BeginTransaction: %v", err)
	}
	txWant(t, tx, "k", "old")
	noErr(t, tx.Set("k", "new"), "tx.Set")
	noErr(t, tx.Set("added", 1), "tx.Set")
	cancel()
	err = tx.Commit()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Commit after the transaction's ctx was cancelled = %v, want an error matching context.Canceled", err)
	}
	wantCode(t, err, foxstore.CodeWriteFailed, "Commit after the transaction's ctx was cancelled")
	wantValue(t, st, "k", "old")
	wantMissing(t, st, "added")
	checkDone(t, tx, "after a failed Commit")
}

func testTxContextDeadline(t *testing.T, st store) {
	mustSet(t, st, "k", "old")
	// The deadline must not pass before the transaction is under way; on a
	// slow server, try again with more time.
	for timeout := 200 * time.Millisecond; ; timeout *= 4 {
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		tx, err := st.BeginTransaction(ctx)
		if err == nil {
			err = tx.Set("k", "new")
		}
		if err != nil {
			cancel()
			if errors.Is(err, context.DeadlineExceeded) && timeout < 10*time.Second {
				continue
			}
			t.Fatalf("BeginTransaction or tx.Set within %v: %v", timeout, err)
		}
		<-ctx.Done()
		err = tx.Commit()
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Commit after the transaction's deadline = %v, want an error matching context.DeadlineExceeded", err)
		}
		wantCode(t, err, foxstore.CodeWriteFailed, "Commit after the transaction's deadline")
		noErr(t, tx.Rollback(), "Rollback")
		wantValue(t, st, "k", "old")
		return
	}
}

// testOpenTxDoesNotBlockReads checks that a transaction that has read and
// written a key and stays open never blocks plain reads of it from another
// goroutine (CONTRACT §7).
func testOpenTxDoesNotBlockReads(t *testing.T, st store) {
	mustSet(t, st, "k", 1)
	mustSet(t, st, "other", 2)
	tx := mustBegin(t, st)
	defer tx.Rollback()
	txWant(t, tx, "k", 1)
	txWant(t, tx, "other", 2)
	noErr(t, tx.Set("k", 99), "tx.Set")
	noErr(t, tx.Delete("other"), "tx.Delete")

	ctx, cancel := context.WithTimeout(t.Context(), raceTimeout)
	defer cancel()
	// The goroutine only records; the test reads the record once it is done.
	var problems []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
		if v, err := st.Get(ctx, "k"); err != nil || v != 1 {
			report("Get(k) = %v, %v; want 1", v, err)
		}
		if !st.Exists(ctx, "k") || !st.Exists(ctx, "other") {
			report("Exists = false for a key that a still-open transaction wrote")
		}
		if keys, err := st.Keys(ctx, "*"); err != nil || !slices.Equal(keys, []string{"k", "other"}) {
			report("Keys(*) = %q, %v; want [k other]", keys, err)
		}
		if n, err := st.Count(ctx, "*"); err != nil || n != 2 {
			report("Count(*) = %d, %v; want 2", n, err)
		}
		if m, err := st.Find(ctx, "*"); err != nil || len(m) != 2 {
			report("Find(*) = %d entries, %v; want 2", len(m), err)
		}
		if m, err := st.GetBatch(ctx, []string{"k", "other"}); err != nil || len(m) != 2 {
			report("GetBatch = %d entries, %v; want 2", len(m), err)
		}
		if d, err := st.TTL(ctx, "k"); err != nil || d != 0 {
			report("TTL(k) = %v, %v; want 0", d, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(raceTimeout + 5*time.Second):
		t.Fatalf("plain reads did not return within %v (and ignored their ctx) while a transaction was open", raceTimeout)
	}
	for _, p := range problems {
		t.Errorf("with a transaction open on the same keys: %s", p)
	}
	if ctx.Err() != nil {
		t.Errorf("plain reads blocked until their ctx ended while a transaction was open")
	}
}

// txOutcome is how one transaction of a race ended.
type txOutcome struct {
	stage string // "BeginTransaction", "body" or "Commit"
	err   error
}

// racePair runs two transactions at once. Each runs body, which calls
// overlap after its reads: overlap waits (bounded by overlapWait) for the
// rival to have read too, so that on backends that do not serialize
// transactions by waiting, both read before either commits. Then each
// commits.
func racePair(ctx context.Context, st foxstore.StoragePlugin, body func(i int, tx foxstore.Transaction, overlap func()) error) [2]txOutcome {
	var arrived atomic.Int32
	both := make(chan struct{})
	var out [2]txOutcome
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			var once sync.Once
			overlap := func() {
				once.Do(func() {
					if arrived.Add(1) == 2 {
						close(both)
					}
					select {
					case <-both:
					case <-time.After(overlapWait):
					case <-ctx.Done():
					}
				})
			}
			// A transaction that fails early must not hold its rival up.
			defer overlap()
			tx, err := st.BeginTransaction(ctx)
			if err != nil {
				out[i] = txOutcome{"BeginTransaction", err}
				return
			}
			defer tx.Rollback()
			if err := body(i, tx, overlap); err != nil {
				out[i] = txOutcome{"body", err}
				return
			}
			overlap()
			out[i] = txOutcome{"Commit", tx.Commit()}
		})
	}
	wg.Wait()
	return out
}

// committed checks the outcomes of a race: only Commit may fail, and only
// with ErrStorageConflict (CONTRACT §7). It returns how many committed.
func committed(t testing.TB, out [2]txOutcome) int {
	t.Helper()
	n := 0
	for i, o := range out {
		switch {
		case o.stage != "Commit":
			t.Errorf("transaction %d failed in %s: %v", i, o.stage, o.err)
		case o.err == nil:
			n++
		default:
			wantCode(t, o.err, foxstore.CodeConflict, "transaction %d lost the race: Commit", i)
		}
	}
	if n == 0 {
		t.Error("neither transaction committed: one of two conflicting transactions must win")
	}
	return n
}

func asInt(v any) (int, error) {
	n, ok := v.(int)
	if !ok {
		return 0, fmt.Errorf("stored int came back as %s", describe(v))
	}
	return n, nil
}

// testConflict checks for lost updates between two transactions that read
// and write the same key: either one commits and the other gets
// ErrStorageConflict, or the backend makes the second wait and both commit
// in turn. The counter must count exactly the commits.
func testConflict(t *testing.T, st store) {
	ctx, cancel := context.WithTimeout(t.Context(), raceTimeout)
	defer cancel()
	mustSet(t, st, "counter", 0)
	out := racePair(ctx, st, func(i int, tx foxstore.Transaction, overlap func()) error {
		v, err := tx.Get("counter")
		if err != nil {
			return err
		}
		n, err := asInt(v)
		if err != nil {
			return err
		}
		overlap()
		return tx.Set("counter", n+1)
	})
	n := committed(t, out)
	wantValue(t, st, "counter", n)
}

// testWriteSkew checks the classic write skew: two transactions each read x
// and y and zero one of them while x+y == 2. Serializable execution keeps at
// least one of them at 1.
func testWriteSkew(t *testing.T, st store) {
	ctx, cancel := context.WithTimeout(t.Context(), raceTimeout)
	defer cancel()
	noErr(t, st.SetBatch(ctx, map[string]any{"x": 1, "y": 1}), "SetBatch")
	out := racePair(ctx, st, func(i int, tx foxstore.Transaction, overlap func()) error {
		sum := 0
		for _, k := range []string{"x", "y"} {
			v, err := tx.Get(k)
			if err != nil {
				return err
			}
			n, err := asInt(v)
			if err != nil {
				return err
			}
			sum += n
		}
		overlap()
		if sum < 2 {
			return nil
		}
		return tx.Set([]string{"x", "y"}[i], 0)
	})
	committed(t, out)
	m, err := st.GetBatch(ctx, []string{"x", "y"})
	if noErr(t, err, "GetBatch") {
		x, _ := m["x"].(int)
		y, _ := m["y"].(int)
		if x+y < 1 {
			t.Errorf("write skew: both transactions committed, x = %v and y = %v", m["x"], m["y"])
		}
	}
}

// singleOps are plain writes that run while a transaction has read key "k"
// (holding 0) and is about to write it. Each leaves k as "want" (nil: gone).
type singleOp struct {
	name    string
	op      func(ctx context.Context, st foxstore.StoragePlugin) error
	want    any
	missing bool // k is missing, not 0, when the transaction reads it
}

var singleOps = []singleOp{
	{"Set", func(ctx context.Context, st foxstore.StoragePlugin) error { return st.Set(ctx, "k", 100, 0) }, 100, false},
	{"Delete", func(ctx context.Context, st foxstore.StoragePlugin) error { return st.Delete(ctx, "k") }, nil, false},
	{"SetBatch", func(ctx context.Context, st foxstore.StoragePlugin) error {
		return st.SetBatch(ctx, map[string]any{"k": 100, "other": 1})
	}, 100, false},
	{"DeleteBatch", func(ctx context.Context, st foxstore.StoragePlugin) error {
		return st.DeleteBatch(ctx, []string{"k", "other"})
	}, nil, false},
	// The transaction reads a missing key, a plain write creates it.
	{"SetOfMissingKey", func(ctx context.Context, st foxstore.StoragePlugin) error { return st.Set(ctx, "k", 100, 0) }, 100, true},
	{"SetBatchOfMissingKey", func(ctx context.Context, st foxstore.StoragePlugin) error {
		return st.SetBatch(ctx, map[string]any{"k": 100})
	}, 100, true},
}

// testSingleOpDuringTx checks that transactions are serializable with single
// operations (CONTRACT §7): a transaction reads k, a plain write changes k,
// the transaction writes k from what it read and commits. Whichever order a
// backend picks, the plain write's effect must survive: if it came first the
// transaction read a stale k and must not commit, and if it waited for the
// transaction it lands last.
func testSingleOpDuringTx(t *testing.T, st store, op singleOp) {
	name := op.name
	ctx, cancel := context.WithTimeout(t.Context(), raceTimeout)
	defer cancel()
	if !op.missing {
		mustSet(t, st, "k", 0)
	}
	mustSet(t, st, "other", 0)
	tx, err := st.BeginTransaction(ctx)
	if err != nil {
		t.Fatalf("BeginTransaction: %v", err)
	}
	defer tx.Rollback()
	n := 0
	v, err := tx.Get("k")
	if op.missing {
		wantCode(t, err, foxstore.CodeNotFound, "tx.Get of a missing key")
	} else {
		if err != nil {
			t.Fatalf("tx.Get: %v", err)
		}
		if n, err = asInt(v); err != nil {
			t.Fatal(err)
		}
	}
	opDone := make(chan error, 1)
	go func() { opDone <- op.op(ctx, st) }()
	var opErr error
	finished := false
	select {
	case opErr = <-opDone:
		finished = true
	case <-time.After(overlapWait):
	}
	noErr(t, tx.Set("k", n+1), "tx.Set")
	if err := tx.Commit(); err != nil {
		wantCode(t, err, foxstore.CodeConflict, "Commit of a transaction whose read was overwritten by %s", name)
	}
	if !finished {
		select {
		case opErr = <-opDone:
		case <-ctx.Done():
			t.Fatalf("%s waiting for a transaction did not return after it committed", name)
		}
	}
	noErr(t, opErr, "%s during a transaction", name)
	if op.want == nil {
		if st.Exists(ctx, "k") {
			got, _ := st.Get(ctx, "k")
			t.Errorf("lost update: k = %s; the transaction committed over a %s that its read did not see", describe(got), name)
		}
	} else {
		got, err := st.Get(ctx, "k")
		if noErr(t, err, "Get") && sameValue(op.want, got) != "" {
			t.Errorf("lost update: k = %s, want %v; the transaction committed over a %s that its read did not see", describe(got), op.want, name)
		}
	}
}

// testRereadAfterOutsideChange: a transaction reads a missing key k, a plain
// Set creates k, the transaction reads k again, a plain Delete removes k,
// and the transaction writes from what it read and commits. k is missing at
// commit, as at the first read; but if the second read saw k, the
// transaction saw two states of k that no serial order can give it, and
// must not commit. (A backend may make the plain writes wait for the
// transaction, or give the transaction the same answer twice.)
func testRereadAfterOutsideChange(t *testing.T, st store) {
	ctx, cancel := context.WithTimeout(t.Context(), raceTimeout)
	defer cancel()
	tx, err := st.BeginTransaction(ctx)
	if err != nil {
		t.Fatalf("BeginTransaction: %v", err)
	}
	defer tx.Rollback()
	_, err = tx.Get("k")
	wantCode(t, err, foxstore.CodeNotFound, "tx.Get of a missing key")
	// outside runs a plain write and waits for it a while: a backend
	// that locks what the transaction read makes it wait for the commit.
	var pending []chan error
	outside := func(op func() error) {
		done := make(chan error, 1)
		go func() { done <- op() }()
		select {
		case err := <-done:
			noErr(t, err, "plain write during a transaction")
		case <-time.After(overlapWait):
			pending = append(pending, done)
		}
	}
	outside(func() error { return st.Set(ctx, "k", 1, 0) })
	_, err = tx.Get("k")
	sawK := err == nil
	if !sawK {
		wantCode(t, err, foxstore.CodeNotFound, "second tx.Get")
	}
	if len(pending) == 0 {
		outside(func() error { return st.Delete(ctx, "k") })
	}
	noErr(t, tx.Set("saw", sawK), "tx.Set")
	err = tx.Commit()
	if err == nil && sawK {
		t.Errorf("a transaction saw k missing, then present, and committed")
	} else if err != nil {
		wantCode(t, err, foxstore.CodeConflict, "Commit")
	}
	for _, done := range pending {
		select {
		case err := <-done:
			noErr(t, err, "plain write that waited for a transaction")
		case <-ctx.Done():
			t.Fatal("a plain write waiting for a transaction did not return after it committed")
		}
	}
}

// testExpiryBetweenReads: a key expires between two reads of one
// transaction. The reads must agree (the transaction judges expiry at one
// instant), or the transaction must not commit: what it saw is no state the
// store was ever in.
func testExpiryBetweenReads(t *testing.T, st store) {
	mustSetTTL(t, st, "k", 1, shortTTL)
	tx := mustBegin(t, st)
	defer tx.Rollback()
	_, err := tx.Get("k")
	first := err == nil
	if !first {
		wantCode(t, err, foxstore.CodeNotFound, "tx.Get") // a slow store: k expired already
	}
	waitExpiry()
	_, err = tx.Get("k")
	second := err == nil
	if !second {
		wantCode(t, err, foxstore.CodeNotFound, "second tx.Get")
	}
	noErr(t, tx.Set("saw", second), "tx.Set")
	err = tx.Commit()
	if err == nil && first != second {
		t.Errorf("a transaction saw k live, then expired, and committed")
	} else if err != nil {
		wantCode(t, err, foxstore.CodeConflict, "Commit")
	}
}

// testExpiryBeforeCommit: a transaction reads a key live, the key expires,
// and the transaction writes from what it read: at its commit it would
// write from a state the store is no longer in, so Commit must fail with
// ErrStorageConflict (and Update would run it again).
func testExpiryBeforeCommit(t *testing.T, st store) {
	// A TTL long enough for any store to get from Set to tx.Get in time.
	const ttl = 4 * shortTTL
	mustSetTTL(t, st, "k", 1, ttl)
	tx := mustBegin(t, st)
	defer tx.Rollback()
	if _, err := tx.Get("k"); err != nil {
		t.Fatalf("tx.Get of a key just set with ttl %v: %v", ttl, err)
	}
	time.Sleep(ttl + expiryWait - shortTTL)
	noErr(t, tx.Set("copy", 1), "tx.Set")
	wantCode(t, tx.Commit(), foxstore.CodeConflict, "Commit of a transaction that read a key since expired")
	if st.Exists(t.Context(), "copy") {
		t.Error("the failed commit wrote its key")
	}
}

func testUpdate(t *testing.T, st store) {
	ctx := t.Context()
	mustSet(t, st, "k", 1)
	err := foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
		v, err := tx.Get("k")
		if err != nil {
			return err
		}
		n, err := asInt(v)
		if err != nil {
			return err
		}
		if err := tx.Set("k", n+1); err != nil {
			return err
		}
		return tx.Set("added", "yes")
	})
	noErr(t, err, "Update")
	wantValue(t, st, "k", 2)
	wantValue(t, st, "added", "yes")

	err = foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
		_, err := tx.Get("k")
		return err
	})
	noErr(t, err, "read-only Update")
}

// testUpdateRetries makes Update's first attempt conflict with a plain Set
// that runs between its read and its commit: Update must retry (or the
// backend must make the Set wait), never lose the Set.
func testUpdateRetries(t *testing.T, st store) {
	ctx, cancel := context.WithTimeout(t.Context(), raceTimeout)
	defer cancel()
	mustSet(t, st, "k", 0)
	var calls atomic.Int32
	setDone := make(chan error, 1)
	err := foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
		v, err := tx.Get("k")
		if err != nil {
			return err
		}
		n, err := asInt(v)
		if err != nil {
			return err
		}
		if calls.Add(1) == 1 {
			finished := make(chan struct{})
			go func() {
				setDone <- st.Set(ctx, "k", 100, 0)
				close(finished)
			}()
			select {
			case <-finished:
			case <-time.After(overlapWait):
			}
		}
		return tx.Set("k", n+1)
	})
	noErr(t, err, "Update")
	select {
	case err := <-setDone:
		noErr(t, err, "Set during Update")
	case <-ctx.Done():
		t.Fatal("a Set waiting for a transaction did not return after it committed")
	}
	got, err := st.Get(ctx, "k")
	if !noErr(t, err, "Get") {
		return
	}
	// 101: the Set came first and Update retried. 100: the Set waited for
	// the transaction and landed last.
	if got != 101 && got != 100 {
		t.Errorf("k = %s after Update(k++) raced with Set(k, 100), want 101 or 100 (fn ran %d times)", describe(got), calls.Load())
	}
}

// testUpdateFnError checks that an error from fn is returned as is, without
// a retry, and that nothing is applied.
func testUpdateFnError(t *testing.T, st store) {
	ctx := t.Context()
	mustSet(t, st, "k", "old")
	boom := errors.New("fn failed")
	for _, fnErr := range []error{boom, fmt.Errorf("wrapped: %w", boom), foxstore.ErrStorageNotFound} {
		calls := 0
		err := foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
			calls++
			if err := tx.Set("k", "new"); err != nil {
				return err
			}
			if err := tx.Set("added", 1); err != nil {
				return err
			}
			return fnErr
		})
		if err != fnErr {
			t.Errorf("Update returned %v, want fn's error %v as is", err, fnErr)
		}
		if calls != 1 {
			t.Errorf("Update called fn %d times after it returned %v, want 1", calls, fnErr)
		}
		wantValue(t, st, "k", "old")
		wantMissing(t, st, "added")
	}
}

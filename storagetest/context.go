package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

// ctxOps are the store operations that take a ctx, with the code a failure
// of each carries: reads 5001, writes 5002 (CONTRACT §8). BeginTransaction
// may count as either.
var ctxOps = []struct {
	name  string
	codes []int
	run   func(ctx context.Context, st store) error
}{
	{"Get", readCode, func(ctx context.Context, st store) error { _, err := st.Get(ctx, "present"); return err }},
	{"GetAs", readCode, func(ctx context.Context, st store) error {
		_, err := foxstore.GetAs[string](ctx, st, "present")
		return err
	}},
	{"GetBatch", readCode, func(ctx context.Context, st store) error {
		_, err := st.GetBatch(ctx, []string{"present", "other"})
		return err
	}},
	{"Find", readCode, func(ctx context.Context, st store) error { _, err := st.Find(ctx, "*"); return err }},
	{"Count", readCode, func(ctx context.Context, st store) error { _, err := st.Count(ctx, "*"); return err }},
	{"Keys", readCode, func(ctx context.Context, st store) error { _, err := st.Keys(ctx, "*"); return err }},
	{"TTL", readCode, func(ctx context.Context, st store) error { _, err := st.TTL(ctx, "present"); return err }},
	{"Set", writeCode, func(ctx context.Context, st store) error { return st.Set(ctx, "new", "v", 0) }},
	{"Set over a key", writeCode, func(ctx context.Context, st store) error { return st.Set(ctx, "present", "changed", 0) }},
	{"Delete", writeCode, func(ctx context.Context, st store) error { return st.Delete(ctx, "present") }},
	{"SetBatch", writeCode, func(ctx context.Context, st store) error {
		return st.SetBatch(ctx, map[string]any{"new": 1, "present": "changed"})
	}},
	{"DeleteBatch", writeCode, func(ctx context.Context, st store) error {
		return st.DeleteBatch(ctx, []string{"present", "other"})
	}},
	{"Expire", writeCode, func(ctx context.Context, st store) error { return st.Expire(ctx, "present", time.Minute) }},
	{"BeginTransaction", []int{foxstore.CodeReadFailed, foxstore.CodeWriteFailed}, func(ctx context.Context, st store) error {
		tx, err := st.BeginTransaction(ctx)
		if err == nil {
			tx.Rollback()
		}
		return err
	}},
	{"Update", []int{foxstore.CodeReadFailed, foxstore.CodeWriteFailed}, func(ctx context.Context, st store) error {
		return foxstore.Update(ctx, st, func(tx foxstore.Transaction) error { return tx.Set("new", 1) })
	}},
}

var (
	readCode  = []int{foxstore.CodeReadFailed}
	writeCode = []int{foxstore.CodeWriteFailed}
)

func testContext(t *testing.T, s *suite) {
	s.run(t, "Canceled", func(t *testing.T, st store) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		checkCtxOps(t, st, ctx, context.Canceled)
	})
	s.run(t, "DeadlineExceeded", func(t *testing.T, st store) {
		ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
		defer cancel()
		checkCtxOps(t, st, ctx, context.DeadlineExceeded)
	})
	// A value whose encoding takes long may outlive its ctx: the ctx is
	// checked after the encoding, not only before.
	s.run(t, "CanceledWhileEncoding", func(t *testing.T, st store) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		v := cancelOnEncode{cancel}
		if err := st.Set(ctx, "new", v, 0); !errors.Is(err, context.Canceled) || codeProblem(err, foxstore.CodeWriteFailed) != "" {
			t.Errorf("Set of a value whose encoding cancels ctx: %v, want %d matching %v", err, foxstore.CodeWriteFailed, context.Canceled)
		}
		ctx, cancel = context.WithCancel(t.Context())
		defer cancel()
		v = cancelOnEncode{cancel}
		if err := st.SetBatch(ctx, map[string]any{"new": v, "other": "v"}); !errors.Is(err, context.Canceled) || codeProblem(err, foxstore.CodeWriteFailed) != "" {
			t.Errorf("SetBatch of a value whose encoding cancels ctx: %v, want %d matching %v", err, foxstore.CodeWriteFailed, context.Canceled)
		}
		wantMissing(t, st, "new")
		wantMissing(t, st, "other")
	})
}

// cancelOnEncode is a value that cancels a ctx when it is encoded.
type cancelOnEncode struct{ cancel context.CancelFunc }

func (c cancelOnEncode) MarshalJSON() ([]byte, error) {
	c.cancel()
	return []byte(`"encoded"`), nil
}

// checkCtxOps runs every operation with an ended ctx: each must fail with an
// error matching both cause and its read or write code, Exists must say
// false, and nothing may be written.
func checkCtxOps(t *testing.T, st store, ctx context.Context, cause error) {
	mustSetTTL(t, st, "present", "v", longTTL)
	for _, op := range ctxOps {
		err := op.run(ctx, st)
		if !errors.Is(err, cause) {
			t.Errorf("%s with an ended ctx: %v, want an error matching %v", op.name, err, cause)
		}
		ok := false
		for _, code := range op.codes {
			if codeProblem(err, code) == "" {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s with an ended ctx: %v carries code %d, want %v", op.name, err, foxstore.CodeOf(err), op.codes)
		}
	}
	if st.Exists(ctx, "present") {
		t.Error("Exists with an ended ctx = true, want false")
	}
	wantValue(t, st, "present", "v")
	wantMissing(t, st, "new")
	wantKeys(t, st, "*", []string{"present"})
	if d, err := st.TTL(t.Context(), "present"); noErr(t, err, "TTL") {
		wantRemaining(t, "TTL after Expire with an ended ctx", d, longTTL)
	}
}

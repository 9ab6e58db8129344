package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

func testErrors(t *testing.T, s *suite) {
	s.run(t, "NotFoundText", testNotFoundText)
	s.run(t, "Codes", testErrorCodes)
	s.run(t, "NoValueInMessage", testNoValueInMessage)
	s.run(t, "MessagesNameKey", testMessagesNameKey)
}

// testMessagesNameKey checks that errors about one key name it (CONTRACT §8).
func testMessagesNameKey(t *testing.T, st store) {
	ctx := t.Context()
	const key = "user:42"
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, errTTL := st.TTL(ctx, key)
	_, errCtx := st.Get(cctx, key)
	tx := mustBegin(t, st)
	_, errTx := tx.Get(key)
	noErr(t, tx.Rollback(), "Rollback")
	for _, c := range []struct {
		op  string
		err error
	}{
		{"Set of an unencodable value", st.Set(ctx, key, make(chan int), 0)},
		{"Set with a negative TTL", st.Set(ctx, key, 1, -time.Second)},
		{"TTL of a missing key", errTTL},
		{"Expire of a missing key", st.Expire(ctx, key, time.Minute)},
		{"Get with a cancelled ctx", errCtx},
		{"Delete with a cancelled ctx", st.Delete(cctx, key)},
		{"tx.Get of a missing key", errTx},
	} {
		if c.err == nil {
			t.Errorf("%s: got nil error", c.op)
		} else if !strings.Contains(c.err.Error(), `"`+key+`"`) {
			t.Errorf("%s: message %q does not name the key %q", c.op, c.err, key)
		}
	}
}

// testNotFoundText checks the message format of CONTRACT §8.
func testNotFoundText(t *testing.T, st store) {
	_, err := st.Get(t.Context(), "user:1")
	const want = `foxstore: get "user:1": not found [5004]`
	if err == nil || err.Error() != want {
		t.Errorf("Get of a missing key: error %q, want %q", err, want)
	}
}

// testErrorCodes checks that errors from real operations carry their code
// through errors.Is, CodeOf and errors.As, also when wrapped again, and
// match no other sentinel.
func testErrorCodes(t *testing.T, st store) {
	ctx := t.Context()
	_, notFound := st.Get(ctx, "missing")
	invalid := st.Set(ctx, "", 1, 0)
	tx := mustBegin(t, st)
	noErr(t, tx.Rollback(), "Rollback")
	txDone := tx.Set("k", 1)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, canceled := st.Get(cctx, "k")

	cases := []struct {
		name string
		err  error
		code int
	}{
		{"Get of a missing key", notFound, foxstore.CodeNotFound},
		{"Set with an empty key", invalid, foxstore.CodeInvalid},
		{"tx.Set after Rollback", txDone, foxstore.CodeTxDone},
		{"Get with a cancelled ctx", canceled, foxstore.CodeReadFailed},
	}
	for _, c := range cases {
		wantCode(t, c.err, c.code, "%s", c.name)
		wrapped := fmt.Errorf("caller context: %w", c.err)
		wantCode(t, wrapped, c.code, "%s, wrapped by the caller", c.name)
		var fe *foxstore.Error
		if errors.As(wrapped, &fe) && fe.Code != c.code {
			t.Errorf("%s: errors.As gives a *foxstore.Error with Code %d, want %d", c.name, fe.Code, c.code)
		}
		for code, sentinel := range sentinels {
			if code != c.code && errors.Is(c.err, sentinel) {
				t.Errorf("%s: error %v also matches the sentinel of code %d", c.name, c.err, code)
			}
		}
		if c.err != nil && !strings.HasPrefix(c.err.Error(), "foxstore: ") {
			t.Errorf("%s: message %q does not start with \"foxstore: \"", c.name, c.err)
		}
	}
	// The cause stays reachable: a cancelled ctx is the cause of the read failure.
	if !errors.Is(canceled, context.Canceled) {
		t.Errorf("Get with a cancelled ctx: %v does not match context.Canceled", canceled)
	}
	if foxstore.CodeOf(nil) != 0 {
		t.Errorf("CodeOf(nil) = %d, want 0", foxstore.CodeOf(nil))
	}
	if foxstore.CodeOf(errors.New("plain")) != 0 {
		t.Error("CodeOf of an error without a code is not 0")
	}
	if foxstore.CodeOf(context.Canceled) != 0 {
		t.Error("CodeOf(context.Canceled) is not 0")
	}
}

// testNoValueInMessage checks that error messages never repeat a value
// (CONTRACT §8): the value might be a secret.
func testNoValueInMessage(t *testing.T, st store) {
	ctx := t.Context()
	const secret = "hunter2-s3cr3t"
	secretMap := map[string]any{"password": secret, "bad": make(chan int)}
	cctx, cancel := context.WithCancel(ctx)
	cancel()

	check := func(op string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: got nil error, want a failure", op)
			return
		}
		noSecret(t, err, secret, op)
	}
	check("Set with an empty key", st.Set(ctx, "", secret, 0))
	check("Set with a NUL key", st.Set(ctx, "a\x00b", secret, 0))
	check("Set with a negative TTL", st.Set(ctx, "k", secret, -time.Second))
	check("Set of an unencodable map", st.Set(ctx, "k", secretMap, 0))
	check("Set of a NaN next to a secret", st.Set(ctx, "k", map[string]any{"password": secret, "x": math.NaN()}, 0))
	check("Set of invalid JSON", st.Set(ctx, "k", json.RawMessage(`{"password":"`+secret+`"`), 0))
	check("Set with a cancelled ctx", st.Set(cctx, "k", secret, 0))
	check("SetBatch with a bad key", st.SetBatch(ctx, map[string]any{"": secret, "ok": secret}))
	check("SetBatch with an unencodable value", st.SetBatch(ctx, map[string]any{"k": secretMap, "ok": secret}))

	mustSet(t, st, "k", secret)
	tx := mustBegin(t, st)
	check("tx.Set with a bad key", tx.Set("", secret))
	err := tx.Set("k", secretMap)
	if err == nil {
		err = tx.Commit()
	}
	check("tx.Set of an unencodable value", err)
	noErr(t, tx.Rollback(), "Rollback")
	check("tx.Set after Rollback", tx.Set("k", secret))
	_, err = st.Get(cctx, "k")
	check("Get with a cancelled ctx of a key holding a secret", err)
	_, err = foxstore.GetAs[int](ctx, st, "k")
	if err != nil {
		// GetAs of a string as an int may fail; if so, not with the value.
		noSecret(t, err, secret, "GetAs[int] of a string")
	}
}

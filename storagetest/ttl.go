package storagetest

import (
	"math"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

const (
	// shortTTL expires during expiryWait, however slow the store.
	shortTTL   = 50 * time.Millisecond
	expiryWait = 150 * time.Millisecond
	// longTTL keeps a key alive for the whole test.
	longTTL = time.Hour
)

// waitExpiry sleeps until keys written with shortTTL before the call are
// past their deadline.
func waitExpiry() { time.Sleep(expiryWait) }

func testTTL(t *testing.T, s *suite) {
	s.run(t, "Negative", testTTLNegative)
	s.run(t, "VisibleBeforeDeadline", testTTLVisible)
	s.run(t, "InvisibleAfterDeadline", testTTLExpired)
	s.run(t, "SetReplacesTTL", testSetReplacesTTL)
	s.run(t, "BatchAndTxWriteNoTTL", testBatchAndTxNoTTL)
	s.run(t, "TTLMethod", testTTLMethod)
	s.run(t, "Expire", testExpire)
	s.run(t, "SubMillisecond", testSubMillisecond)
	s.run(t, "ClearCache", testClearCacheExpiry)
	s.run(t, "Huge", testHugeTTL)
}

// testHugeTTL checks that the largest TTLs neither overflow into the past
// nor fail: a key set to expire in centuries is live.
func testHugeTTL(t *testing.T, st store) {
	ctx := t.Context()
	const century = 100 * 365 * 24 * time.Hour
	for _, ttl := range []time.Duration{math.MaxInt64, math.MaxInt64 / 2, 200 * 365 * 24 * time.Hour} {
		mustSetTTL(t, st, "k", "v", ttl)
		wantValue(t, st, "k", "v")
		if d, err := st.TTL(ctx, "k"); noErr(t, err, "TTL after Set with ttl %v", ttl) && d < century {
			t.Errorf("TTL after Set with ttl %v = %v, want at least a century", ttl, d)
		}
		mustSet(t, st, "e", "v")
		noErr(t, st.Expire(ctx, "e", ttl), "Expire with ttl %v", ttl)
		wantValue(t, st, "e", "v")
		if d, err := st.TTL(ctx, "e"); noErr(t, err, "TTL after Expire with ttl %v", ttl) && d < century {
			t.Errorf("TTL after Expire with ttl %v = %v, want at least a century", ttl, d)
		}
	}
	wantKeys(t, st, "*", []string{"e", "k"})
}

func testTTLNegative(t *testing.T, st store) {
	ctx := t.Context()
	for _, ttl := range []time.Duration{-1, -time.Millisecond, -time.Hour} {
		wantCode(t, st.Set(ctx, "k", "v", ttl), foxstore.CodeInvalid, "Set with ttl %v", ttl)
	}
	wantMissing(t, st, "k")

	mustSetTTL(t, st, "k", "v", longTTL)
	wantCode(t, st.Set(ctx, "k", "other", -time.Second), foxstore.CodeInvalid, "Set over a key with ttl -1s")
	wantValue(t, st, "k", "v")
	wantCode(t, st.Expire(ctx, "k", -1), foxstore.CodeInvalid, "Expire with ttl -1ns")
	wantCode(t, st.Expire(ctx, "missing", -1), foxstore.CodeInvalid, "Expire of a missing key with ttl -1ns")
	if d, err := st.TTL(ctx, "k"); noErr(t, err, "TTL") {
		wantRemaining(t, "TTL after a refused Expire", d, longTTL)
	}
}

// wantRemaining checks a TTL reading for a key written with ttl a moment
// ago: positive, at most ttl (plus the 1 ms resolution), and not far below.
func wantRemaining(t testing.TB, what string, d, ttl time.Duration) {
	t.Helper()
	if d <= 0 || d > ttl+time.Millisecond || d < ttl-time.Minute {
		t.Errorf("%s = %v, want about %v", what, d, ttl)
	}
}

// testTTLVisible checks that a key with a TTL is visible to every read
// before its deadline.
func testTTLVisible(t *testing.T, st store) {
	ctx := t.Context()
	mustSetTTL(t, st, "ttl:a", "a", longTTL)
	mustSetTTL(t, st, "ttl:b", 2, time.Minute)
	want := map[string]any{"ttl:a": "a", "ttl:b": 2}

	wantValue(t, st, "ttl:a", "a")
	wantValue(t, st, "ttl:b", 2)
	if !st.Exists(ctx, "ttl:b") {
		t.Error("Exists = false for a key with a TTL of a minute")
	}
	if m, err := st.GetBatch(ctx, []string{"ttl:a", "ttl:b"}); noErr(t, err, "GetBatch") {
		wantMap(t, "GetBatch", m, want)
	}
	wantFind(t, st, "ttl:*", want)
	wantKeys(t, st, "ttl:*", []string{"ttl:a", "ttl:b"})
	tx := mustBegin(t, st)
	if got, err := tx.Get("ttl:b"); noErr(t, err, "tx.Get") {
		if p := sameValue(2, got); p != "" {
			t.Errorf("tx.Get: %s", p)
		}
	}
	noErr(t, tx.Rollback(), "Rollback")
}

// testTTLExpired checks that an expired key is invisible to every read from
// its deadline on, whether or not cleanup has run (CONTRACT §4).
func testTTLExpired(t *testing.T, st store) {
	ctx := t.Context()
	mustSet(t, st, "live", "stays")
	mustSetTTL(t, st, "exp:1", "gone", shortTTL)
	mustSetTTL(t, st, "exp:2", []byte("gone"), shortTTL)
	noErr(t, st.Expire(ctx, "live", 0), "Expire(live, 0)")
	// Read the keys before they expire, so that a read cache holds them.
	st.Get(ctx, "exp:1")
	st.GetBatch(ctx, []string{"exp:1", "exp:2"})
	st.Find(ctx, "*")
	st.Exists(ctx, "exp:2")
	waitExpiry()

	wantMissing(t, st, "exp:1")
	wantMissing(t, st, "exp:2")
	if m, err := st.GetBatch(ctx, []string{"exp:1", "exp:2", "live"}); noErr(t, err, "GetBatch") {
		wantMap(t, "GetBatch after expiry", m, map[string]any{"live": "stays"})
	}
	wantFind(t, st, "*", map[string]any{"live": "stays"})
	wantFind(t, st, "exp:*", nil)
	wantKeys(t, st, "*", []string{"live"})
	wantKeys(t, st, "exp:?", nil)
	wantKeys(t, st, "exp:1", nil)
	tx := mustBegin(t, st)
	_, err := tx.Get("exp:1")
	wantCode(t, err, foxstore.CodeNotFound, "tx.Get of an expired key")
	noErr(t, tx.Commit(), "Commit")
	_, err = st.TTL(ctx, "exp:1")
	wantCode(t, err, foxstore.CodeNotFound, "TTL of an expired key")
	wantCode(t, st.Expire(ctx, "exp:1", time.Hour), foxstore.CodeNotFound, "Expire of an expired key")
	wantMissing(t, st, "exp:1") // Expire must not revive it
	_, err = foxstore.GetAs[string](ctx, st, "exp:1")
	wantCode(t, err, foxstore.CodeNotFound, "GetAs of an expired key")

	noErr(t, st.Delete(ctx, "exp:2"), "Delete of an expired key")
	noErr(t, st.Set(ctx, "exp:1", "again", 0), "Set over an expired key")
	wantValue(t, st, "exp:1", "again")
	wantKeys(t, st, "*", []string{"exp:1", "live"})
}

// testSetReplacesTTL checks that Set replaces both value and TTL.
func testSetReplacesTTL(t *testing.T, st store) {
	ctx := t.Context()
	mustSetTTL(t, st, "to-persistent", 1, shortTTL)
	mustSetTTL(t, st, "to-persistent", 2, 0)
	mustSetTTL(t, st, "to-short", 1, 0)
	mustSetTTL(t, st, "to-short", 2, shortTTL)
	mustSetTTL(t, st, "long-to-short", 1, longTTL)
	mustSetTTL(t, st, "long-to-short", 2, shortTTL)
	mustSetTTL(t, st, "short-to-long", 1, shortTTL)
	mustSetTTL(t, st, "short-to-long", 2, longTTL)
	waitExpiry()

	wantValue(t, st, "to-persistent", 2)
	if d, err := st.TTL(ctx, "to-persistent"); noErr(t, err, "TTL") && d != 0 {
		t.Errorf("TTL after Set with ttl 0 = %v, want 0", d)
	}
	wantMissing(t, st, "to-short")
	wantMissing(t, st, "long-to-short")
	wantValue(t, st, "short-to-long", 2)
	if d, err := st.TTL(ctx, "short-to-long"); noErr(t, err, "TTL") {
		wantRemaining(t, "TTL after Set with ttl 1h", d, longTTL)
	}
}

// testBatchAndTxNoTTL checks that SetBatch and tx.Set write keys with no
// TTL, even over a key that had one.
func testBatchAndTxNoTTL(t *testing.T, st store) {
	ctx := t.Context()
	mustSetTTL(t, st, "batch", 1, shortTTL)
	mustSetTTL(t, st, "tx", 1, shortTTL)
	noErr(t, st.SetBatch(ctx, map[string]any{"batch": 2, "batch-new": 2}), "SetBatch")
	tx := mustBegin(t, st)
	noErr(t, tx.Set("tx", 2), "tx.Set")
	noErr(t, tx.Set("tx-new", 2), "tx.Set")
	noErr(t, tx.Commit(), "Commit")
	waitExpiry()

	for _, k := range []string{"batch", "batch-new", "tx", "tx-new"} {
		wantValue(t, st, k, 2)
		if d, err := st.TTL(ctx, k); noErr(t, err, "TTL(%s)", k) && d != 0 {
			t.Errorf("TTL(%s) = %v, want 0", k, d)
		}
	}
}

func testTTLMethod(t *testing.T, st store) {
	ctx := t.Context()
	_, err := st.TTL(ctx, "missing")
	wantCode(t, err, foxstore.CodeNotFound, "TTL of a missing key")
	mustSet(t, st, "forever", "v")
	if d, err := st.TTL(ctx, "forever"); noErr(t, err, "TTL") && d != 0 {
		t.Errorf("TTL of a key without expiry = %v, want 0", d)
	}
	mustSetTTL(t, st, "hour", "v", longTTL)
	if d, err := st.TTL(ctx, "hour"); noErr(t, err, "TTL") {
		wantRemaining(t, "TTL of a key set with ttl 1h", d, longTTL)
	}
	mustSetTTL(t, st, "minute", "v", time.Minute)
	if d, err := st.TTL(ctx, "minute"); noErr(t, err, "TTL") {
		wantRemaining(t, "TTL of a key set with ttl 1m", d, time.Minute)
	}
	noErr(t, st.Delete(ctx, "hour"), "Delete")
	_, err = st.TTL(ctx, "hour")
	wantCode(t, err, foxstore.CodeNotFound, "TTL of a deleted key")
}

func testExpire(t *testing.T, st store) {
	ctx := t.Context()
	wantCode(t, st.Expire(ctx, "missing", time.Hour), foxstore.CodeNotFound, "Expire of a missing key")
	wantCode(t, st.Expire(ctx, "missing", 0), foxstore.CodeNotFound, "Expire(0) of a missing key")
	wantMissing(t, st, "missing")

	mustSet(t, st, "k", "value")
	noErr(t, st.Expire(ctx, "k", longTTL), "Expire(k, 1h)")
	wantValue(t, st, "k", "value")
	if d, err := st.TTL(ctx, "k"); noErr(t, err, "TTL") {
		wantRemaining(t, "TTL after Expire(1h)", d, longTTL)
	}
	noErr(t, st.Expire(ctx, "k", 0), "Expire(k, 0)")
	if d, err := st.TTL(ctx, "k"); noErr(t, err, "TTL") && d != 0 {
		t.Errorf("TTL after Expire(0) = %v, want 0", d)
	}
	wantCode(t, st.Expire(ctx, "k", -time.Second), foxstore.CodeInvalid, "Expire(k, -1s)")

	mustSet(t, st, "short", "value")
	noErr(t, st.Expire(ctx, "short", shortTTL), "Expire(short, 50ms)")
	mustSet(t, st, "tiny", "value")
	noErr(t, st.Expire(ctx, "tiny", time.Nanosecond), "Expire(tiny, 1ns)")
	mustSetTTL(t, st, "rescued", "value", shortTTL)
	noErr(t, st.Expire(ctx, "rescued", 0), "Expire(rescued, 0)")
	waitExpiry()

	wantValue(t, st, "k", "value")
	wantMissing(t, st, "short")
	wantMissing(t, st, "tiny")
	wantValue(t, st, "rescued", "value")
	wantKeys(t, st, "*", []string{"k", "rescued"})
}

// testSubMillisecond checks that a positive TTL under 1 ms counts as 1 ms:
// it is accepted and the key expires (CONTRACT §4).
func testSubMillisecond(t *testing.T, st store) {
	ctx := t.Context()
	for _, ttl := range []time.Duration{time.Nanosecond, time.Microsecond, 999 * time.Microsecond} {
		noErr(t, st.Set(ctx, "sub:"+ttl.String(), "v", ttl), "Set with ttl %v", ttl)
	}
	noErr(t, st.SetBatch(ctx, map[string]any{"batch": 1}), "SetBatch")
	waitExpiry()
	wantKeys(t, st, "*", []string{"batch"})
	wantMissing(t, st, "sub:1ns")
}

// testClearCacheExpiry checks that ClearCache drops expired entries but
// never live ones, and never resets the counters.
func testClearCacheExpiry(t *testing.T, st store) {
	ctx := t.Context()
	live := map[string]any{"live:1": 1, "live:2": "two", "live:ttl": 3.5}
	for k, v := range live {
		ttl := time.Duration(0)
		if k == "live:ttl" {
			ttl = longTTL
		}
		mustSetTTL(t, st, k, v, ttl)
	}
	for _, k := range []string{"dead:1", "dead:2", "dead:3"} {
		mustSetTTL(t, st, k, k, shortTTL)
	}
	for k := range live {
		st.Get(ctx, k)
	}
	st.Get(ctx, "dead:1")
	st.Get(ctx, "missing")
	waitExpiry()

	before := stats(t, st)
	noErr(t, st.ClearCache(ctx), "ClearCache")
	after := stats(t, st)
	wantNoDecrease(t, before, after, "ClearCache")

	wantFind(t, st, "*", live)
	wantMissing(t, st, "dead:1")
	if d, err := st.TTL(ctx, "live:ttl"); noErr(t, err, "TTL") {
		wantRemaining(t, "TTL after ClearCache", d, longTTL)
	}
	noErr(t, st.ClearCache(ctx), "second ClearCache")
	wantFind(t, st, "*", live)
	wantNoDecrease(t, after, stats(t, st), "second ClearCache")
}

package storagetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

// Every sentinel of CONTRACT §8, by code.
var sentinels = map[int]error{
	foxstore.CodeReadFailed:  foxstore.ErrStorageReadFailed,
	foxstore.CodeWriteFailed: foxstore.ErrStorageWriteFailed,
	foxstore.CodeCorrupted:   foxstore.ErrStorageCorrupted,
	foxstore.CodeNotFound:    foxstore.ErrStorageNotFound,
	foxstore.CodeConflict:    foxstore.ErrStorageConflict,
	foxstore.CodeInvalid:     foxstore.ErrStorageInvalid,
	foxstore.CodeClosed:      foxstore.ErrStorageClosed,
	foxstore.CodeTxDone:      foxstore.ErrStorageTxDone,
	foxstore.CodeLocked:      foxstore.ErrStorageLocked,
}

// codeProblem describes how err fails to carry code the three ways CONTRACT
// §8 promises (errors.Is, CodeOf, errors.As), or returns "".
func codeProblem(err error, code int) string {
	if err == nil {
		return fmt.Sprintf("got nil error, want code %d", code)
	}
	var fe *foxstore.Error
	if !errors.As(err, &fe) {
		return fmt.Sprintf("got %T %q, which does not wrap a *foxstore.Error (want code %d)", err, err, code)
	}
	if got := foxstore.CodeOf(err); got != code {
		return fmt.Sprintf("got code %d (%v), want %d", got, err, code)
	}
	if !errors.Is(err, sentinels[code]) {
		return fmt.Sprintf("CodeOf is %d but errors.Is(err, sentinel %d) is false (%v)", code, code, err)
	}
	return ""
}

// wantCode reports an error unless err carries code.
func wantCode(t testing.TB, err error, code int, op string, args ...any) {
	t.Helper()
	if p := codeProblem(err, code); p != "" {
		t.Errorf("%s: %s", fmt.Sprintf(op, args...), p)
	}
}

// noErr reports err, if any, as a test error, and reports whether err is nil.
func noErr(t testing.TB, err error, op string, args ...any) bool {
	t.Helper()
	if err != nil {
		t.Errorf("%s: unexpected error: %v", fmt.Sprintf(op, args...), err)
		return false
	}
	return true
}

// q quotes a key for a test message, shortening long ones.
func q(s string) string {
	if len(s) > 48 {
		return strconv.Quote(s[:24]) + "...(" + strconv.Itoa(len(s)) + " bytes)"
	}
	return strconv.Quote(s)
}

func mustSet(t testing.TB, st foxstore.StoragePlugin, key string, v any) {
	t.Helper()
	mustSetTTL(t, st, key, v, 0)
}

func mustSetTTL(t testing.TB, st foxstore.StoragePlugin, key string, v any, ttl time.Duration) {
	t.Helper()
	if err := st.Set(t.Context(), key, v, ttl); err != nil {
		t.Fatalf("Set(%s, ttl %v): %v", q(key), ttl, err)
	}
}

func mustBegin(t testing.TB, st foxstore.StoragePlugin) foxstore.Transaction {
	t.Helper()
	tx, err := st.BeginTransaction(t.Context())
	if err != nil {
		t.Fatalf("BeginTransaction: %v", err)
	}
	if tx == nil {
		t.Fatal("BeginTransaction returned a nil Transaction and no error")
	}
	return tx
}

// wantValue reports an error unless Get(key) returns want.
func wantValue(t testing.TB, st foxstore.StoragePlugin, key string, want any) {
	t.Helper()
	got, err := st.Get(t.Context(), key)
	if err != nil {
		t.Errorf("Get(%s): %v, want a value", q(key), err)
		return
	}
	if p := sameValue(want, got); p != "" {
		t.Errorf("Get(%s): %s", q(key), p)
	}
}

// wantMissing reports an error unless key has no live value: Get gives
// ErrStorageNotFound and Exists false.
func wantMissing(t testing.TB, st foxstore.StoragePlugin, key string) {
	t.Helper()
	got, err := st.Get(t.Context(), key)
	if err == nil {
		t.Errorf("Get(%s) = %s, want ErrStorageNotFound", q(key), describe(got))
	} else {
		wantCode(t, err, foxstore.CodeNotFound, "Get(%s)", q(key))
	}
	if st.Exists(t.Context(), key) {
		t.Errorf("Exists(%s) = true, want false", q(key))
	}
}

// wantKeys reports an error unless Keys(pattern) returns exactly want, in
// byte order, and Count(pattern) agrees.
func wantKeys(t testing.TB, st foxstore.StoragePlugin, pattern string, want []string) {
	t.Helper()
	want = sortedCopy(want)
	got, err := st.Keys(t.Context(), pattern)
	if !noErr(t, err, "Keys(%s)", q(pattern)) {
		return
	}
	if len(got) == 0 && len(want) == 0 {
		// nil and empty are the same answer
	} else if !slices.Equal(got, want) {
		t.Errorf("Keys(%s) = %s, want %s", q(pattern), qs(got), qs(want))
	}
	n, err := st.Count(t.Context(), pattern)
	if noErr(t, err, "Count(%s)", q(pattern)) && n != len(want) {
		t.Errorf("Count(%s) = %d, want %d", q(pattern), n, len(want))
	}
}

// wantFind reports an error unless Find(pattern) returns exactly want.
func wantFind(t testing.TB, st foxstore.StoragePlugin, pattern string, want map[string]any) {
	t.Helper()
	got, err := st.Find(t.Context(), pattern)
	if !noErr(t, err, "Find(%s)", q(pattern)) {
		return
	}
	wantMap(t, fmt.Sprintf("Find(%s)", q(pattern)), got, want)
}

// wantMap compares a GetBatch or Find result with want.
func wantMap(t testing.TB, op string, got, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: key %s missing", op, q(k))
			continue
		}
		if p := sameValue(w, g); p != "" {
			t.Errorf("%s: key %s: %s", op, q(k), p)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected key %s", op, q(k))
		}
	}
}

// qs quotes a list of keys for a message.
func qs(keys []string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = q(k)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// noSecret reports an error if the message of err contains secret: messages
// name operations and keys, never values (CONTRACT §8).
func noSecret(t testing.TB, err error, secret, op string) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("%s: the error message repeats the value: %q", op, err.Error())
	}
}

// stats returns the store's statistics, checking what holds at any moment:
// non-nil, no negative figure, HitRate = Hits / (Hits + Misses).
func stats(t testing.TB, st foxstore.StoragePlugin) foxstore.CacheStats {
	t.Helper()
	cs, err := st.GetCacheStats(t.Context())
	if err != nil {
		t.Fatalf("GetCacheStats: %v", err)
	}
	if cs == nil {
		t.Fatal("GetCacheStats returned nil stats and no error")
	}
	if cs.Hits < 0 || cs.Misses < 0 || cs.Evictions < 0 || cs.Expirations < 0 || cs.Entries < 0 || cs.Capacity < 0 {
		t.Errorf("GetCacheStats: negative figure in %+v", *cs)
	}
	if cs.Capacity > 0 && cs.Entries > cs.Capacity {
		t.Errorf("GetCacheStats: Entries %d above Capacity %d", cs.Entries, cs.Capacity)
	}
	want := 0.0
	if cs.Hits+cs.Misses > 0 {
		want = float64(cs.Hits) / float64(cs.Hits+cs.Misses)
	}
	if d := cs.HitRate - want; d > 1e-9 || d < -1e-9 {
		t.Errorf("GetCacheStats: HitRate = %v, want Hits/(Hits+Misses) = %d/(%d+%d) = %v", cs.HitRate, cs.Hits, cs.Hits, cs.Misses, want)
	}
	return *cs
}

// wantNoDecrease reports an error if a cumulative counter went down between
// two snapshots (CONTRACT §9: counters are cumulative since Start).
func wantNoDecrease(t testing.TB, before, after foxstore.CacheStats, when string) {
	t.Helper()
	check := func(name string, b, a int64) {
		if a < b {
			t.Errorf("%s: %s went down from %d to %d", when, name, b, a)
		}
	}
	check("Hits", before.Hits, after.Hits)
	check("Misses", before.Misses, after.Misses)
	check("Evictions", before.Evictions, after.Evictions)
	check("Expirations", before.Expirations, after.Expirations)
}

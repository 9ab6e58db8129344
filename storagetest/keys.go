package storagetest

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/foxstore/foxstore"
)

// badKeys break the key rule of CONTRACT §2: 1 to 1024 bytes of valid UTF-8
// with no NUL.
var badKeys = []struct{ name, key string }{
	{"empty", ""},
	{"1025-bytes", strings.Repeat("k", 1025)},
	{"1025-bytes-multibyte", strings.Repeat("é", 512) + "k"},
	{"invalid-utf8", "bad\xffkey"},
	{"truncated-rune", "日"[:2]},
	{"surrogate", "\xed\xa0\x80"},
	{"nul", "a\x00b"},
	{"only-nul", "\x00"},
}

// goodLongKeys are valid keys at the length limit.
var goodLongKeys = []struct{ name, key string }{
	{"1024-bytes", strings.Repeat("k", 1024)},
	{"1024-bytes-2-byte-runes", strings.Repeat("é", 512)},
	{"1024-bytes-3-byte-runes", strings.Repeat("日", 341) + "a"},
	{"1024-bytes-4-byte-runes", strings.Repeat("🦊", 256)},
	{"1-byte", "k"},
}

// byteKeys are distinct keys that a careless backend would merge or reorder:
// case, trailing spaces, Unicode normalization, SQL LIKE wildcards, quotes.
var byteKeys = []string{
	"a", "A", "a ", "a  ", "a\t", "a\x01", "aa", "B", "b",
	"é", "e\u0301", "ß", "ss", "İ", "i", "I", "ｆｕｌｌ", "full",
	"100%", "a_b", "a%b", "it's", `"quoted"`, `back\slash`, "semi;colon",
	"🦊", "\x7f", "line\nbreak", "\u2028", "\u00ff", "z", "\U0010FFFF",
}

func testKeys(t *testing.T, s *suite) {
	t.Run("Invalid", func(t *testing.T) {
		for _, bk := range badKeys {
			s.run(t, bk.name, func(t *testing.T, st store) { checkBadKey(t, st, bk.key) })
		}
	})
	s.run(t, "Limit", testKeyLimit)
	s.run(t, "Bytes", testKeyBytes)
}

// checkBadKey checks that every method taking a key refuses key with
// ErrStorageInvalid and writes nothing.
func checkBadKey(t *testing.T, st store, key string) {
	ctx := t.Context()
	if len(key) <= 1024 && utf8.ValidString(key) && !strings.Contains(key, "\x00") && key != "" {
		t.Fatalf("test bug: %s is a valid key", q(key))
	}
	mustSet(t, st, "good", "old")

	wantCode(t, st.Set(ctx, key, "v", 0), foxstore.CodeInvalid, "Set(%s)", q(key))
	wantCode(t, st.Set(ctx, key, "v", time.Hour), foxstore.CodeInvalid, "Set(%s) with a TTL", q(key))
	_, err := st.Get(ctx, key)
	wantCode(t, err, foxstore.CodeInvalid, "Get(%s)", q(key))
	_, err = foxstore.GetAs[string](ctx, st, key)
	wantCode(t, err, foxstore.CodeInvalid, "GetAs(%s)", q(key))
	wantCode(t, st.Delete(ctx, key), foxstore.CodeInvalid, "Delete(%s)", q(key))
	if st.Exists(ctx, key) {
		t.Errorf("Exists(%s) = true, want false", q(key))
	}
	_, err = st.GetBatch(ctx, []string{"good", key})
	wantCode(t, err, foxstore.CodeInvalid, "GetBatch with %s", q(key))
	wantCode(t, st.SetBatch(ctx, map[string]any{"good": "new", "fresh": 1, key: "v"}), foxstore.CodeInvalid, "SetBatch with %s", q(key))
	wantCode(t, st.DeleteBatch(ctx, []string{"good", key}), foxstore.CodeInvalid, "DeleteBatch with %s", q(key))
	_, err = st.TTL(ctx, key)
	wantCode(t, err, foxstore.CodeInvalid, "TTL(%s)", q(key))
	wantCode(t, st.Expire(ctx, key, time.Hour), foxstore.CodeInvalid, "Expire(%s, 1h)", q(key))
	wantCode(t, st.Expire(ctx, key, 0), foxstore.CodeInvalid, "Expire(%s, 0)", q(key))

	tx := mustBegin(t, st)
	_, err = tx.Get(key)
	wantCode(t, err, foxstore.CodeInvalid, "tx.Get(%s)", q(key))
	wantCode(t, tx.Set(key, "v"), foxstore.CodeInvalid, "tx.Set(%s)", q(key))
	wantCode(t, tx.Delete(key), foxstore.CodeInvalid, "tx.Delete(%s)", q(key))
	noErr(t, tx.Rollback(), "Rollback")

	wantValue(t, st, "good", "old")
	wantMissing(t, st, "fresh")
	wantKeys(t, st, "*", []string{"good"})
}

// testKeyLimit checks that keys of exactly 1024 bytes work everywhere.
func testKeyLimit(t *testing.T, st store) {
	ctx := t.Context()
	for _, gk := range goodLongKeys {
		k := gk.key
		if len(k) > 1024 || !utf8.ValidString(k) {
			t.Fatalf("test bug: %s is not a valid key", gk.name)
		}
		v := "value of " + gk.name
		if !noErr(t, st.Set(ctx, k, v, 0), "Set(%s)", gk.name) {
			continue
		}
		wantValue(t, st, k, v)
		if !st.Exists(ctx, k) {
			t.Errorf("Exists(%s) = false after Set", gk.name)
		}
		if m, err := st.GetBatch(ctx, []string{k}); noErr(t, err, "GetBatch(%s)", gk.name) {
			wantMap(t, "GetBatch("+gk.name+")", m, map[string]any{k: v})
		}
		wantKeys(t, st, "*", []string{k})
		wantKeys(t, st, k, []string{k}) // no wildcard in these keys: a literal pattern
		wantFind(t, st, "*", map[string]any{k: v})
		if d, err := st.TTL(ctx, k); noErr(t, err, "TTL(%s)", gk.name) && d != 0 {
			t.Errorf("TTL(%s) = %v, want 0", gk.name, d)
		}
		noErr(t, st.Expire(ctx, k, time.Hour), "Expire(%s)", gk.name)

		tx := mustBegin(t, st)
		if got, err := tx.Get(k); noErr(t, err, "tx.Get(%s)", gk.name) {
			if p := sameValue(v, got); p != "" {
				t.Errorf("tx.Get(%s): %s", gk.name, p)
			}
		}
		noErr(t, tx.Set(k, "tx"), "tx.Set(%s)", gk.name)
		noErr(t, tx.Commit(), "Commit")
		wantValue(t, st, k, "tx")

		noErr(t, st.Delete(ctx, k), "Delete(%s)", gk.name)
		wantMissing(t, st, k)
	}
	// Long keys that differ only in their last byte stay apart.
	long := strings.Repeat("p", 1023)
	for _, c := range "abc" {
		mustSet(t, st, long+string(c), string(c))
	}
	for _, c := range "abc" {
		wantValue(t, st, long+string(c), string(c))
	}
	wantKeys(t, st, long+"?", []string{long + "a", long + "b", long + "c"})
	wantKeys(t, st, "p*b", []string{long + "b"})
	noErr(t, st.DeleteBatch(ctx, []string{long + "a", long + "b", long + "c"}), "DeleteBatch")

	batch := map[string]any{}
	for _, gk := range goodLongKeys {
		batch[gk.key] = gk.name
	}
	noErr(t, st.SetBatch(ctx, batch), "SetBatch of long keys")
	wantFind(t, st, "*", batch)
	keys := make([]string, 0, len(batch))
	for k := range batch {
		keys = append(keys, k)
	}
	noErr(t, st.DeleteBatch(ctx, keys), "DeleteBatch of long keys")
	wantKeys(t, st, "*", nil)
}

// testKeyBytes checks that keys compare and sort by their bytes (CONTRACT §2).
func testKeyBytes(t *testing.T, st store) {
	ctx := t.Context()
	want := map[string]any{}
	for i, k := range byteKeys {
		v := fmt.Sprintf("value %d", i)
		want[k] = v
		noErr(t, st.Set(ctx, k, v, 0), "Set(%s)", q(k))
	}
	for _, k := range byteKeys {
		wantValue(t, st, k, want[k])
	}
	wantKeys(t, st, "*", byteKeys)
	wantFind(t, st, "*", want)
	if m, err := st.GetBatch(ctx, byteKeys); noErr(t, err, "GetBatch") {
		wantMap(t, "GetBatch", m, want)
	}

	// Patterns compare bytes too: no case folding, no padding, no
	// normalization, no SQL wildcards.
	var single []string
	for _, k := range byteKeys {
		if utf8.RuneCountInString(k) == 1 {
			single = append(single, k)
		}
	}
	for _, c := range []struct {
		pattern string
		want    []string
	}{
		{"a", []string{"a"}},
		{"A*", []string{"A"}},
		{"a?", []string{"a ", "a\t", "a\x01", "aa"}},
		{"a *", []string{"a ", "a  "}},
		{"é", []string{"é"}},
		{"e*", []string{"e\u0301"}},
		{"ß", []string{"ß"}},
		{"s*", []string{"ss", "semi;colon"}},
		{"i", []string{"i"}},
		{"I", []string{"I"}},
		{"[a-z]", []string{"a", "b", "i", "z"}},
		{"[A-Z]", []string{"A", "B", "I"}},
		{"?", single},
		{"*%", []string{"100%"}},
		{"a%b", []string{"a%b"}},
		{"a_b", []string{"a_b"}},
		{"full", []string{"full"}},
		{`*\\*`, []string{`back\slash`}},
		{"*'*", []string{"it's"}},
		{"line?break", []string{"line\nbreak"}},
	} {
		wantKeys(t, st, c.pattern, c.want)
	}

	// Deleting one key of a look-alike pair leaves the other.
	noErr(t, st.Delete(ctx, "a "), "Delete")
	noErr(t, st.Delete(ctx, "e\u0301"), "Delete")
	noErr(t, st.Delete(ctx, "A"), "Delete")
	wantMissing(t, st, "a ")
	wantMissing(t, st, "A")
	wantValue(t, st, "a", want["a"])
	wantValue(t, st, "a  ", want["a  "])
	wantValue(t, st, "é", want["é"])
	if n, err := st.Count(ctx, "*"); noErr(t, err, "Count") && n != len(byteKeys)-3 {
		t.Errorf("Count(\"*\") = %d after deleting 3 of %d keys", n, len(byteKeys))
	}
}

package storagetest

import (
	"testing"

	"github.com/foxstore/foxstore"
)

// patternKeys is the key space of the pattern table. Keys named "dead:*"
// in patternDead are written too, then deleted or left to expire.
var patternKeys = []string{
	"song:", "song:1", "song:10", "song:2", "songs",
	"user:1", "user:12", "user:123", "user:2", "user:x",
	"a", "b", "c", "d", "e", "é", "日",
	"ab", "abc", "a:b:c", "a_b", "axb",
	"x*y", "x?y", "x[y", "xay", `x\y`,
	"100%", "1000",
}

// patternCases hold, for each pattern, exactly the keys of patternKeys it
// matches under CONTRACT §5. "?" and classes match one rune, not one byte.
var patternCases = []struct {
	pattern string
	want    []string
}{
	{"*", patternKeys},
	{"song:*", []string{"song:", "song:1", "song:10", "song:2"}},
	{"song*", []string{"song:", "song:1", "song:10", "song:2", "songs"}},
	{"song:?", []string{"song:1", "song:2"}},
	{"song:??", []string{"song:10"}},
	{"song:1", []string{"song:1"}},
	{"user:1?", []string{"user:12"}},
	{"user:1*", []string{"user:1", "user:12", "user:123"}},
	{"user:?", []string{"user:1", "user:2", "user:x"}},
	{"user:[0-9]", []string{"user:1", "user:2"}},
	{"user:[^0-9]", []string{"user:x"}},
	{"user:[12]*", []string{"user:1", "user:12", "user:123", "user:2"}},
	{"?", []string{"a", "b", "c", "d", "e", "é", "日"}},
	{"??", []string{"ab"}},
	{"???", []string{"abc", "a_b", "axb", "x*y", "x?y", "x[y", "xay", `x\y`}},
	{"[abc]", []string{"a", "b", "c"}},
	{"[a-c]", []string{"a", "b", "c"}},
	{"[a-z]", []string{"a", "b", "c", "d", "e"}},
	{"[^a]", []string{"b", "c", "d", "e", "é", "日"}},
	{"[^a-d]", []string{"e", "é", "日"}},
	{"[é日]", []string{"é", "日"}},
	{"é", []string{"é"}},
	{"日*", []string{"日"}},
	{"*é", []string{"é"}},
	{"e", []string{"e"}},
	{"a*", []string{"a", "ab", "abc", "a:b:c", "a_b", "axb"}},
	{"a*c", []string{"abc", "a:b:c"}},
	{"a?b", []string{"a_b", "axb"}},
	{"a_b", []string{"a_b"}},
	{"100%", []string{"100%"}},
	{"100*", []string{"100%", "1000"}},
	{"1*%", []string{"100%"}},
	{"*:*", []string{"a:b:c", "song:", "song:1", "song:10", "song:2", "user:1", "user:12", "user:123", "user:2", "user:x"}},
	{"*1", []string{"song:1", "user:1"}},
	{"*:1*", []string{"song:1", "song:10", "user:1", "user:12", "user:123"}},
	{"x*y", []string{"x*y", "x?y", "x[y", "xay", `x\y`}},
	{"x?y", []string{"x*y", "x?y", "x[y", "xay", `x\y`}},
	{`x\*y`, []string{"x*y"}},
	{`x\?y`, []string{"x?y"}},
	{`x\[y`, []string{"x[y"}},
	{`x\\y`, []string{`x\y`}},
	{`x\ay`, []string{"xay"}},
	{"x[*?]y", []string{"x*y", "x?y"}},
	{"nothing*", nil},
	{"dead:*", nil},
	{"*dead*", nil},
	{"[x]", nil},
}

// malformedPatterns are refused with ErrStorageInvalid (CONTRACT §5).
var malformedPatterns = []string{"", "[abc", "[", "[^", "song:[", `abc\`, `\`, "[]"}

func testPatterns(t *testing.T, s *suite) {
	s.run(t, "Match", testPatternMatch)
	s.run(t, "Malformed", testPatternMalformed)
}

func testPatternMatch(t *testing.T, st store) {
	ctx := t.Context()
	value := func(k string) any { return "v:" + k }
	batch := map[string]any{}
	for _, k := range patternKeys[:len(patternKeys)/2] {
		batch[k] = value(k)
	}
	noErr(t, st.SetBatch(ctx, batch), "SetBatch")
	for _, k := range patternKeys[len(patternKeys)/2:] {
		mustSet(t, st, k, value(k))
	}
	// Dead keys: deleted, expired, and expired after being read.
	mustSet(t, st, "dead:deleted", 1)
	mustSetTTL(t, st, "dead:expired", 1, shortTTL)
	mustSetTTL(t, st, "dead:read", 1, shortTTL)
	st.Get(ctx, "dead:read")
	st.Keys(ctx, "*")
	noErr(t, st.Delete(ctx, "dead:deleted"), "Delete")
	waitExpiry()

	for _, c := range patternCases {
		t.Run(c.pattern, func(t *testing.T) {
			wantKeys(t, st, c.pattern, c.want)
			want := make(map[string]any, len(c.want))
			for _, k := range c.want {
				want[k] = value(k)
			}
			wantFind(t, st, c.pattern, want)
		})
	}
}

func testPatternMalformed(t *testing.T, st store) {
	ctx := t.Context()
	mustSet(t, st, "abc", 1)
	mustSet(t, st, "[", 1)
	for _, p := range malformedPatterns {
		_, err := st.Find(ctx, p)
		wantCode(t, err, foxstore.CodeInvalid, "Find(%s)", q(p))
		_, err = st.Count(ctx, p)
		wantCode(t, err, foxstore.CodeInvalid, "Count(%s)", q(p))
		_, err = st.Keys(ctx, p)
		wantCode(t, err, foxstore.CodeInvalid, "Keys(%s)", q(p))
	}
}

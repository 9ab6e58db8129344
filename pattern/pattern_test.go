package pattern

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

type matchCase struct {
	pattern, key string
	want         bool
}

var matchCases = []matchCase{
	// '*'
	{"*", "", true},
	{"*", "anything:at:all", true},
	{"song:*", "song:", true},
	{"song:*", "song:1:2", true},
	{"song:*", "son", false},
	{"song:*", "xsong:1", false},
	{"*:1", "a:b:1", true},
	{"*:1", "a:b:12", false},
	{"a*c", "a:b:c", true},
	{"a*b*c", "abc", true},
	{"a*b*c", "aXbYc", true},
	{"a*b*c", "abcabc", true},
	{"a*b*c", "acb", false},
	{"**", "", true},
	{"a**b", "ab", true},
	{"a*", "a", true},
	{"*a", "ba", true},
	{"*a", "ab", false},
	{"*ab", "aab", true},
	{"*aab", "aaab", true},
	{"*a*b", "xaxxbxb", true},
	{"*a*b", "xaxxbxa", false},
	{"*", "a\nb", true},

	// '?'
	{"?", "a", true},
	{"?", "", false},
	{"?", "ab", false},
	{"user:12?", "user:123", true},
	{"user:12?", "user:12", false},
	{"user:12?", "user:1234", false},
	{"a?c", "a:c", true},
	{"a?b", "a\nb", true},
	{"?", "é", true},
	{"??", "é", false}, // Redis would say true: é is two bytes
	{"?", "日", true},
	{"a?c", "a日c", true},
	{"?", "😀", true},
	{"?", "e\u0301", false}, // e + combining acute: two runes

	// classes
	{"[abc]", "b", true},
	{"[abc]", "d", false},
	{"[abc]", "", false},
	{"[abc]", "ab", false},
	{"[a-z]", "a", true},
	{"[a-z]", "m", true},
	{"[a-z]", "z", true},
	{"[a-z]", "A", false},
	{"[a-z]", "{", false},
	{"[z-a]", "m", true},
	{"[z-a]", "A", false},
	{"[a-cx-z]", "y", true},
	{"[a-cx-z]", "d", false},
	{"[^a]", "b", true},
	{"[^a]", "a", false},
	{"[^a]", "", false},
	{"[^x]", "\n", true},
	{"[^a-z0-9]", "_", true},
	{"[^a-z0-9]", "q", false},
	{"[^a-z0-9]", "5", false},
	{"[^a-z0-9]", "日", true},
	{"[-a]", "-", true},
	{"[-a]", "b", false},
	{"[a-]", "-", true},
	{"[a-]", "a", true},
	{"[a-]", "b", false},
	{"[^-]", "-", false},
	{"[^-]", "x", true},
	{"[^-a]", "-", false},
	{"[a-b-c]", "-", true},
	{"[a-b-c]", "c", true},
	{"[a-b-c]", "bc", false},
	{"[--/]", ".", true},
	{"[--/]", "0", false},
	{"[a\\-z]", "a", true},
	{"[a\\-z]", "-", true},
	{"[a\\-z]", "z", true},
	{"[a\\-z]", "b", false},
	{"[\\]]", "]", true},
	{"[\\]]", "\\", false},
	{"[\\\\]", "\\", true},
	{"[\\a-c]", "b", true},
	{"[a-\\c]", "b", true},
	{"[\\]-a]", "_", true}, // ']'..'a' includes '_'
	{"[\\^a]", "^", true},
	{"[a^]", "^", true},
	{"[^^]", "^", false},
	{"[^^]", "a", true},
	{"[!a]", "!", true}, // only '^' negates
	{"[!a]", "b", false},
	{"[[]", "[", true},
	{"[*?]", "*", true},
	{"[*?]", "?", true},
	{"[*?]", "a", false},
	{"[α-ω]", "λ", true},
	{"[α-ω]", "a", false},
	{"[日本]", "本", true},
	{"[日本]", "日本", false},
	{"[ab]*[cd]", "a:x:d", true},
	{"[ab]*[cd]", "a:x:e", false},

	// characters that are special only somewhere else
	{"]", "]", true},
	{"a]", "a]", true},
	{"^a", "^a", true},
	{"^a", "a", false},
	{"-", "-", true},
	{"!", "!", true},

	// escapes
	{"a\\*b", "a*b", true},
	{"a\\*b", "axb", false},
	{"a\\*", "a*", true},
	{"a\\*", "ab", false},
	{"\\?", "?", true},
	{"\\?", "x", false},
	{"\\[a]", "[a]", true},
	{"\\[a]", "a", false},
	{"\\\\", "\\", true},
	{"\\a", "a", true},
	{"\\日", "日", true},
	{"\\**", "*abc", true},
	{"\\**", "abc", false},

	// plain literals
	{"user:1", "user:1", true},
	{"user:1", "user:10", false},
	{"user:1", "user:", false},
	{"abc", "ABC", false},

	// keys that are not valid UTF-8: each bad byte is one character that
	// no literal or positive class matches
	{"?", "\xff", true},
	{"?", "\xff\xfe", false},
	{"??", "\xff\xfe", true},
	{"*", "\xff\xfe", true},
	{"a*", "a\xff", true},
	{"[^a]", "\xff", true},
	{"[\u0001-\U0010FFFF]", "\xff", false},
	{"\uFFFD", "\xff", false},
	{"\uFFFD", "\uFFFD", true},
	{"?", "\uFFFD", true},
	{"*b", "\xe6\x97b", true}, // 日 cut short: two bad bytes, then b
	{"??b", "\xe6\x97b", true},
	{"?b", "\xe6\x97b", false},
	{"日*", "\xe6\x97\xa5\xff", true},
	{"*日", "\xe6\x97\xe6\x97\xa5", true},
	{"*日", "\xa5日", true},
	{"*é", "\xc3\xc3\xa9", true},
	{"*é?", "\xc3\xc3\xa9", false},
}

func TestMatch(t *testing.T) {
	for _, c := range matchCases {
		t.Run(fmt.Sprintf("%q~%q", c.pattern, c.key), func(t *testing.T) {
			p, err := Compile(c.pattern)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if got := p.Match(c.key); got != c.want {
				t.Errorf("Match = %v, want %v", got, c.want)
			}
			// The reference matchers of the fuzz test must agree with the
			// table too, or the fuzz test proves nothing.
			if got := refMatch(c.pattern, c.key); got != c.want {
				t.Errorf("refMatch = %v, want %v", got, c.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		pattern string
		offset  int
		msg     string
	}{
		{"", 0, "empty pattern"},
		{"[", 0, "unclosed '['"},
		{"ab[c", 2, "unclosed '['"},
		{"[a-", 0, "unclosed '['"},
		{"[^", 0, "unclosed '['"},
		{"a[b]c[d", 5, "unclosed '['"},
		{"[\\]", 0, "unclosed '['"},
		{"[]", 0, "empty class"},
		{"[^]", 0, "empty class"},
		{"x[]]", 1, "empty class"},
		{"\\", 0, "trailing '\\'"},
		{"ab\\", 2, "trailing '\\'"},
		{"a\\\\\\", 3, "trailing '\\'"},
		{"[a\\", 2, "trailing '\\' in unclosed '['"},
		{"[a-\\", 3, "trailing '\\' in unclosed '['"},
		{"a\xffb", 1, "invalid UTF-8"},
		{"[\xff]", 1, "invalid UTF-8"},
		{"\\\xff", 1, "invalid UTF-8"},
		{"ab\xe6\x97", 2, "invalid UTF-8"},
		{"\xed\xa0\x80", 0, "invalid UTF-8"}, // a surrogate
		{"a\x00", 1, "NUL"},
		{"\\\x00", 1, "NUL"},
		{"[\x00]", 1, "NUL"},
		{"[" + "\x00", 1, "NUL"}, // the NUL, not the open class
		{strings.Repeat("a", MaxLen+1), MaxLen, "longer than the limit"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%.20q", c.pattern), func(t *testing.T) {
			p, err := Compile(c.pattern)
			if err == nil {
				t.Fatalf("Compile succeeded: %#v", p)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not a *SyntaxError", err, err)
			}
			if se.Offset != c.offset {
				t.Errorf("Offset = %d, want %d", se.Offset, c.offset)
			}
			if se.Pattern != c.pattern {
				t.Errorf("Pattern = %q, want %q", se.Pattern, c.pattern)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.msg) {
				t.Errorf("message %q does not say %q", msg, c.msg)
			}
			if want := fmt.Sprintf("at byte offset %d", c.offset); !strings.Contains(msg, want) {
				t.Errorf("message %q does not say %q", msg, want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Compile("ab[c")
	if want := `pattern "ab[c": unclosed '[' at byte offset 2`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	// A long pattern is cut short in the message.
	_, err = Compile(strings.Repeat("x", 1000) + "[")
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("message too long or missing: %v", err)
	}
}

func TestLongestPattern(t *testing.T) {
	p, err := Compile(strings.Repeat("a", MaxLen))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Match(strings.Repeat("a", MaxLen)) {
		t.Error("no match")
	}
}

func TestPrefixLiteral(t *testing.T) {
	cases := []struct {
		pattern string
		prefix  string
		literal bool
	}{
		{"song:*", "song:", false},
		{"user:12?", "user:12", false},
		{"a\\*b*", "a*b", false},
		{"*x", "", false},
		{"?x", "", false},
		{"[a]bc", "", false},
		{"ab[c]d", "ab", false},
		{"a**", "a", false},
		{"日本*", "日本", false},
		{"user:1", "user:1", true},
		{"a\\*", "a*", true},
		{"\\[x]", "[x]", true},
		{"\\\\", "\\", true},
		{"]", "]", true},
		{"a-b^c", "a-b^c", true},
	}
	for _, c := range cases {
		t.Run(c.pattern, func(t *testing.T) {
			p := MustCompile(c.pattern)
			if got := p.Prefix(); got != c.prefix {
				t.Errorf("Prefix = %q, want %q", got, c.prefix)
			}
			lit, ok := p.Literal()
			if ok != c.literal {
				t.Fatalf("Literal ok = %v, want %v", ok, c.literal)
			}
			if ok && lit != c.prefix {
				t.Errorf("Literal = %q, want %q", lit, c.prefix)
			}
			if !ok && lit != "" {
				t.Errorf("Literal = %q with ok false", lit)
			}
			if got := p.String(); got != c.pattern {
				t.Errorf("String = %q, want %q", got, c.pattern)
			}
		})
	}
}

func TestMustCompilePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Error("MustCompile(\"[\") did not panic")
		}
	}()
	MustCompile("[")
}

func TestQuoteMeta(t *testing.T) {
	for _, key := range []string{"plain", "a*b?c", "[x]", `\`, "^-]", "日*本", "*"} {
		t.Run(key, func(t *testing.T) {
			p := MustCompile(QuoteMeta(key))
			if lit, ok := p.Literal(); !ok || lit != key {
				t.Errorf("Literal = %q, %v; want %q, true", lit, ok, key)
			}
			if !p.Match(key) {
				t.Error("does not match its own key")
			}
			if p.Match(key + "x") {
				t.Error("matches more than its key")
			}
		})
	}
}

// TestPathological only checks that these finish: a matcher that backtracks
// over every star would take longer than the test timeout.
func TestPathological(t *testing.T) {
	long := strings.Repeat("a", 1<<16)
	cases := []struct {
		pattern, key string
		want         bool
	}{
		{"*a*a*a*a*a*a*b", long, false},
		{"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", long[:1024], false},
		{"a*a*a*a*a*a*a", long, true},
		{strings.Repeat("*a", 2000) + "*b", long[:1024], false},
		{strings.Repeat("*?", 100) + "b", long, false},
		{"*[ab]*[ab]*[ab]*[ab]*c", long, false},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if got := MustCompile(c.pattern).Match(c.key); got != c.want {
				t.Errorf("Match = %v, want %v", got, c.want)
			}
		})
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	cases := []matchCase{
		{"*a*b*[^x]?", "xxaxxbxxab", true},
		{"song:*", "song:1", true},
		{"[α-ω]*日?", "λ:日本", true},
		{"*?", "\xff\xfe", true},
		{"*a*a*a*b", strings.Repeat("a", 100), false},
	}
	for _, c := range cases {
		p := MustCompile(c.pattern)
		var got bool
		allocs := testing.AllocsPerRun(100, func() { got = p.Match(c.key) })
		if allocs != 0 {
			t.Errorf("%q.Match(%q): %v allocations", c.pattern, c.key, allocs)
		}
		if got != c.want {
			t.Errorf("%q.Match(%q) = %v, want %v", c.pattern, c.key, got, c.want)
		}
	}
}

// TestConcurrentMatch shares compiled patterns between goroutines; run with
// -race.
func TestConcurrentMatch(t *testing.T) {
	pats := make([]*Pattern, len(matchCases))
	for i, c := range matchCases {
		pats[i] = MustCompile(c.pattern)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				for i, c := range matchCases {
					if got := pats[i].Match(c.key); got != c.want {
						t.Errorf("%q.Match(%q) = %v, want %v", c.pattern, c.key, got, c.want)
						return
					}
					pats[i].Prefix()
					pats[i].Literal()
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkMatch(b *testing.B) {
	long := strings.Repeat("a", 1024)
	cases := []struct {
		name, pattern, key string
	}{
		{"all", "*", "song:12345:title"},
		{"prefix", "song:*", "song:12345:title"},
		{"literal", "user:12345", "user:12345"},
		{"question", "user:12?", "user:123"},
		{"classes", "[a-z]*:[0-9][0-9]*", "song:12345"},
		{"unicode", "歌曲:*:?", "歌曲:周杰伦:晴"},
		{"middle", "*:title:*", "song:12345:title:en"},
		{"pathological", "*a*a*a*a*a*a*b", long},
	}
	for _, c := range cases {
		p := MustCompile(c.pattern)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.key)))
			for b.Loop() {
				p.Match(c.key)
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	for b.Loop() {
		MustCompile("song:*:[a-z0-9]?\\*")
	}
}

package pattern

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// The reference matchers below are deliberately naive and share no code with
// the package: refMatch interprets the pattern text directly with memoized
// recursion, and refRegexp translates it into a Go regexp. Both assume the
// pattern compiled, so they need not diagnose malformed ones.

type refRange struct{ lo, hi rune }

// refClass reads the class whose '[' is at p[i] and returns whether it is
// negated, its ranges, and the offset past its ']'.
func refClass(p string, i int) (neg bool, rs []refRange, end int) {
	i++
	if p[i] == '^' {
		neg = true
		i++
	}
	one := func() rune {
		if p[i] == '\\' {
			i++
		}
		r, n := utf8.DecodeRuneInString(p[i:])
		i += n
		return r
	}
	for first := true; first || p[i] != ']'; first = false {
		lo := one()
		hi := lo
		if p[i] == '-' && p[i+1] != ']' {
			i++
			hi = one()
		}
		rs = append(rs, refRange{min(lo, hi), max(lo, hi)})
	}
	return neg, rs, i + 1
}

type refChar struct {
	r     rune
	valid bool // false for a byte that does not start a valid encoding
}

func refChars(key string) []refChar {
	var cs []refChar
	for len(key) > 0 {
		r, n := utf8.DecodeRuneInString(key)
		cs = append(cs, refChar{r, !(r == utf8.RuneError && n == 1)})
		key = key[n:]
	}
	return cs
}

func refMatch(p, key string) bool {
	cs := refChars(key)
	memo := map[[2]int]bool{}
	var m func(pi, ci int) bool
	m = func(pi, ci int) (res bool) {
		k := [2]int{pi, ci}
		if v, ok := memo[k]; ok {
			return v
		}
		defer func() { memo[k] = res }()
		if pi == len(p) {
			return ci == len(cs)
		}
		switch p[pi] {
		case '*':
			return m(pi+1, ci) || ci < len(cs) && m(pi, ci+1)
		case '?':
			return ci < len(cs) && m(pi+1, ci+1)
		case '[':
			neg, rs, end := refClass(p, pi)
			if ci == len(cs) {
				return false
			}
			in := false
			for _, r := range rs {
				if cs[ci].valid && r.lo <= cs[ci].r && cs[ci].r <= r.hi {
					in = true
				}
			}
			return in != neg && m(end, ci+1)
		case '\\':
			pi++
		}
		r, n := utf8.DecodeRuneInString(p[pi:])
		return ci < len(cs) && cs[ci].valid && cs[ci].r == r && m(pi+n, ci+1)
	}
	return m(0, 0)
}

// refRegexp translates a glob that compiled into an anchored Go regexp. It
// agrees with the glob on valid UTF-8 keys only: a regexp reads an invalid
// byte as U+FFFD.
func refRegexp(p string) string {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for i := 0; i < len(p); {
		switch p[i] {
		case '*':
			b.WriteString(`.*`)
			i++
			continue
		case '?':
			b.WriteString(`.`)
			i++
			continue
		case '[':
			neg, rs, end := refClass(p, i)
			b.WriteString("[")
			if neg {
				b.WriteString("^")
			}
			for _, r := range rs {
				fmt.Fprintf(&b, `\x{%x}-\x{%x}`, r.lo, r.hi)
			}
			b.WriteString("]")
			i = end
			continue
		case '\\':
			i++
		}
		_, n := utf8.DecodeRuneInString(p[i:])
		b.WriteString(regexp.QuoteMeta(p[i : i+n]))
		i += n
	}
	b.WriteString(`)$`)
	return b.String()
}

func TestRefRegexp(t *testing.T) {
	for _, c := range matchCases {
		if !utf8.ValidString(c.key) {
			continue
		}
		re := regexp.MustCompile(refRegexp(c.pattern))
		if got := re.MatchString(c.key); got != c.want {
			t.Errorf("%q as %s: MatchString(%q) = %v, want %v", c.pattern, re, c.key, got, c.want)
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, c := range matchCases {
		f.Add(c.pattern, c.key)
	}
	f.Fuzz(func(t *testing.T, pattern, key string) {
		// Keep the memoized reference cheap; length limits are FuzzCompile's.
		if len(pattern) > 256 || len(key) > 1024 {
			t.Skip()
		}
		p, err := Compile(pattern)
		if err != nil {
			return
		}
		got := p.Match(key)
		if want := refMatch(pattern, key); got != want {
			t.Fatalf("%q.Match(%q) = %v, reference says %v", pattern, key, got, want)
		}
		if utf8.ValidString(key) {
			expr := refRegexp(pattern)
			re, err := regexp.Compile(expr)
			if err != nil {
				t.Fatalf("reference regexp %s: %v", expr, err)
			}
			if want := re.MatchString(key); got != want {
				t.Fatalf("%q.Match(%q) = %v, regexp %s says %v", pattern, key, got, expr, want)
			}
		}
		if got && !strings.HasPrefix(key, p.Prefix()) {
			t.Fatalf("%q matches %q, which does not start with Prefix %q", pattern, key, p.Prefix())
		}
		if lit, ok := p.Literal(); ok {
			if lit != p.Prefix() {
				t.Fatalf("%q: Literal %q differs from Prefix %q", pattern, lit, p.Prefix())
			}
			if !p.Match(lit) {
				t.Fatalf("%q does not match its Literal %q", pattern, lit)
			}
			if got != (key == lit) {
				t.Fatalf("%q with Literal %q: Match(%q) = %v", pattern, lit, key, got)
			}
		}
	})
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{"", "*", "a[b-c]?\\*", "[", "[]", "[^]", "\\", "[a\\", "\x00", "\xff", "[z-a]", "日[^本]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Compile(s)
		if err != nil {
			if p != nil {
				t.Fatalf("Compile(%q) returned a pattern and %v", s, err)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q): %T is not a *SyntaxError", s, err)
			}
			if se.Pattern != s || se.Offset < 0 || se.Offset > len(s) || se.Msg == "" {
				t.Fatalf("Compile(%q): bad error %+v", s, se)
			}
			_ = err.Error()
		} else {
			if s == "" || len(s) > MaxLen || !utf8.ValidString(s) || strings.Contains(s, "\x00") {
				t.Fatalf("Compile(%q) accepted a pattern it must reject", s)
			}
			if p.String() != s {
				t.Fatalf("String() = %q, want %q", p.String(), s)
			}
			if pre := p.Prefix(); !utf8.ValidString(pre) || len(pre) > len(s) {
				t.Fatalf("Compile(%q): bad Prefix %q", s, pre)
			}
			p.Match(s)
			p.Match("")
			p.Match(p.Prefix())
		}

		// Any valid key, quoted, is a literal pattern for that key alone.
		if s != "" && utf8.ValidString(s) && !strings.Contains(s, "\x00") {
			q := QuoteMeta(s)
			if len(q) > MaxLen {
				return
			}
			qp, err := Compile(q)
			if err != nil {
				t.Fatalf("Compile(QuoteMeta(%q)): %v", s, err)
			}
			if lit, ok := qp.Literal(); !ok || lit != s {
				t.Fatalf("QuoteMeta(%q) = %q: Literal %q, %v", s, q, lit, ok)
			}
			if !qp.Match(s) {
				t.Fatalf("QuoteMeta(%q) = %q does not match it", s, q)
			}
		}
	})
}

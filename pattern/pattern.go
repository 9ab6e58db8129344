// Package pattern compiles the glob syntax of Redis KEYS (CONTRACT §5), as
// used by Find, Count and Keys.
//
// # Syntax
//
//	pattern   matches
//	*         any run of characters, including none; ':' is not special
//	?         exactly one character
//	[abc]     one of a, b, c
//	[a-z]     one character from a to z by code point; [z-a] means [a-z]
//	[^a-z0]   one character that is not in the class
//	\x        the character x itself, outside and inside classes
//
// Anything else, including ']', '^' and '-' outside a class, stands for
// itself. Inside a class a '-' that comes first (after any '^') or last is
// literal, as is an escaped '\-'; '^' after the first position is literal; an
// escaped character may be a range end point ([\]-a]); a class closes at the
// first unescaped ']' and must not be empty, so a literal ']' in a class is
// written '\]'.
//
// Compile rejects, with a *SyntaxError that gives the byte offset: an empty
// pattern, an unclosed '[', an empty class ("[]" or "[^]"), a trailing '\'
// (also inside an unclosed class), invalid UTF-8, a NUL byte, and a pattern
// longer than MaxLen bytes.
//
// # Differences from Redis
//
// A character is a Unicode code point, not a byte: '?' matches "é" or "日"
// as one character, and class ranges compare code points. Redis tolerates
// an unclosed '[' or a trailing '\'; this package rejects them, and an empty
// class too. Only '^' negates a class ('!' is literal).
//
// Keys are valid UTF-8 (CONTRACT §2), but Match never panics on one that is
// not: each byte that does not start a valid encoding counts as one character
// that equals no character of the pattern. It is matched by '*', '?' and
// negated classes, never by a literal or a positive class. So every key that
// matches starts with Prefix, whatever its bytes.
//
// # Cost
//
// Compile runs in time linear in the pattern (plus sorting class ranges).
// Match does not allocate and runs in O(len(key) × len(pattern)) in the
// worst case: it matches greedily and, on a mismatch, only ever moves the
// most recent '*' forward by one character, never an earlier one. Patterns
// like "*a*a*a*a*a*a*b", which take exponential time in a naive
// backtracking matcher, stay within that bound. A compiled Pattern is
// immutable and safe for concurrent use.
package pattern

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxLen is the longest pattern Compile accepts, in bytes.
const MaxLen = 4096

// SyntaxError reports a malformed pattern.
type SyntaxError struct {
	Pattern string // the pattern as given
	Offset  int    // byte offset of the problem in Pattern
	Msg     string // what is wrong, e.g. "unclosed '['"
}

// shownLen bounds how much of a pattern an error message quotes.
const shownLen = 64

func (e *SyntaxError) Error() string {
	p := e.Pattern
	if len(p) > shownLen {
		p = p[:shownLen] + "..."
	}
	return fmt.Sprintf("pattern %q: %s at byte offset %d", p, e.Msg, e.Offset)
}

type kind uint8

const (
	kLit   kind = iota // lit, byte for byte
	kOne               // '?'
	kClass             // a bracket class
	kStar              // '*' (runs of stars are folded into one)
)

// runeRange is an inclusive range of code points.
type runeRange struct{ lo, hi rune }

type token struct {
	kind   kind
	neg    bool        // kClass: negated
	lit    string      // kLit: unescaped text, never empty
	ranges []runeRange // kClass: sorted, disjoint, not adjacent
}

// Pattern is a compiled glob pattern. It is immutable and safe for concurrent
// use.
type Pattern struct {
	src     string
	toks    []token
	prefix  string
	literal bool
}

// Compile parses p. A malformed pattern gives a *SyntaxError.
func Compile(p string) (*Pattern, error) {
	fail := func(off int, format string, args ...any) (*Pattern, error) {
		return nil, &SyntaxError{Pattern: p, Offset: off, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case p == "":
		return fail(0, "empty pattern")
	case len(p) > MaxLen:
		return fail(MaxLen, "pattern is %d bytes, longer than the limit of %d", len(p), MaxLen)
	}
	// Check the encoding first, so that later steps can decode blindly and a
	// bad byte is reported as such rather than as whatever it breaks.
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError && n == 1 {
			return fail(i, "invalid UTF-8 byte 0x%02x", p[i])
		}
		if r == 0 {
			return fail(i, "NUL byte")
		}
		i += n
	}

	var toks []token
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, token{kind: kLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(p); {
		switch c := p[i]; c {
		case '*':
			flush()
			if len(toks) == 0 || toks[len(toks)-1].kind != kStar {
				toks = append(toks, token{kind: kStar})
			}
			i++
		case '?':
			flush()
			toks = append(toks, token{kind: kOne})
			i++
		case '[':
			flush()
			tok, next, err := parseClass(p, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, tok)
			i = next
		case '\\':
			if i+1 == len(p) {
				return fail(i, "trailing '\\'")
			}
			_, n := utf8.DecodeRuneInString(p[i+1:])
			lit.WriteString(p[i+1 : i+1+n])
			i += 1 + n
		default:
			_, n := utf8.DecodeRuneInString(p[i:])
			lit.WriteString(p[i : i+n])
			i += n
		}
	}
	flush()

	pat := &Pattern{src: p, toks: toks}
	if toks[0].kind == kLit {
		pat.prefix = toks[0].lit
		pat.literal = len(toks) == 1
	}
	return pat, nil
}

// parseClass parses the class whose '[' is at p[start]. It returns the token
// and the offset just past the closing ']'. p is valid UTF-8 without NUL.
func parseClass(p string, start int) (token, int, error) {
	fail := func(off int, msg string) (token, int, error) {
		return token{}, 0, &SyntaxError{Pattern: p, Offset: off, Msg: msg}
	}
	// char reads one class character, escaped or not, at p[i].
	char := func(i int) (r rune, next int, err error) {
		if p[i] == '\\' {
			if i+1 == len(p) {
				_, _, err := fail(i, "trailing '\\' in unclosed '['")
				return 0, 0, err
			}
			i++
		}
		r, n := utf8.DecodeRuneInString(p[i:])
		return r, i + n, nil
	}

	tok := token{kind: kClass}
	i := start + 1
	if i < len(p) && p[i] == '^' {
		tok.neg = true
		i++
	}
	for {
		if i == len(p) {
			return fail(start, "unclosed '['")
		}
		if p[i] == ']' {
			if len(tok.ranges) == 0 {
				return fail(start, "empty class")
			}
			i++
			break
		}
		lo, next, err := char(i)
		if err != nil {
			return token{}, 0, err
		}
		i = next
		hi := lo
		// An unescaped '-' between two characters makes a range; before the
		// closing ']' (or the end of an unclosed class) it is just a '-'.
		if i+1 < len(p) && p[i] == '-' && p[i+1] != ']' {
			hi, next, err = char(i + 1)
			if err != nil {
				return token{}, 0, err
			}
			i = next
			if lo > hi {
				lo, hi = hi, lo
			}
		}
		tok.ranges = append(tok.ranges, runeRange{lo, hi})
	}
	tok.ranges = normalize(tok.ranges)
	return tok, i, nil
}

// normalize sorts rs and merges ranges that overlap or touch, so that
// contains can binary-search them.
func normalize(rs []runeRange) []runeRange {
	slices.SortFunc(rs, func(a, b runeRange) int { return int(a.lo - b.lo) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r.lo <= last.hi+1 {
			last.hi = max(last.hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

// MustCompile is like Compile but panics on a malformed pattern. It is meant
// for patterns written in the source, in tests and examples.
func MustCompile(p string) *Pattern {
	pat, err := Compile(p)
	if err != nil {
		panic(err)
	}
	return pat
}

// decode returns the character at the start of s (which is not empty) and
// its length in bytes, with ok false for a byte that does not start a valid
// encoding: such a byte is one character, equal to no rune of a pattern.
func decode(s string) (r rune, n int, ok bool) {
	if c := s[0]; c < utf8.RuneSelf {
		return rune(c), 1, true
	}
	r, n = utf8.DecodeRuneInString(s)
	return r, n, n > 1
}

// matchClass reports whether the character at the start of key is in the
// class t, and its length.
func (t *token) matchClass(key string) (bool, int) {
	r, n, ok := decode(key)
	if !ok {
		return t.neg, n
	}
	rs := t.ranges
	lo, hi := 0, len(rs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch {
		case r < rs[m].lo:
			hi = m
		case r > rs[m].hi:
			lo = m + 1
		default:
			return !t.neg, n
		}
	}
	return t.neg, n
}

// Match reports whether key matches the pattern. It does not allocate.
func (p *Pattern) Match(key string) bool {
	toks := p.toks
	ti, ki := 0, 0
	// The most recent '*': its token index and the key offset it has
	// consumed up to. Backtracking only ever grows that one star: the
	// tokens between two stars match a fixed number of characters, so any
	// match that needs an earlier star to grow can be had by growing the
	// later one instead.
	star, starKi := -1, 0
	for {
		if ti < len(toks) {
			t := &toks[ti]
			switch t.kind {
			case kStar:
				if ti == len(toks)-1 {
					return true
				}
				star, starKi = ti, ki
				ti++
				continue
			case kLit:
				if strings.HasPrefix(key[ki:], t.lit) {
					ki += len(t.lit)
					ti++
					continue
				}
			case kOne:
				if ki < len(key) {
					_, n, _ := decode(key[ki:])
					ki += n
					ti++
					continue
				}
			case kClass:
				if ki < len(key) {
					if ok, n := t.matchClass(key[ki:]); ok {
						ki += n
						ti++
						continue
					}
				}
			}
		} else if ki == len(key) {
			return true
		}
		// Mismatch: let the last star swallow one more character, or give up.
		if star < 0 || starKi == len(key) {
			return false
		}
		_, n, _ := decode(key[starKi:])
		starKi += n
		// When a literal follows the star, skip to where it next occurs. A
		// literal starts with a byte that is never inside a character, so
		// the skip lands on a character boundary.
		if t := &toks[star+1]; t.kind == kLit {
			i := strings.Index(key[starKi:], t.lit)
			if i < 0 {
				return false
			}
			starKi += i
		}
		ti, ki = star+1, starKi
	}
}

// Prefix returns the literal text, unescaped, that every matching key starts
// with: everything before the first '*', '?' or class. It is "" when the
// pattern starts with one of those.
func (p *Pattern) Prefix() string { return p.prefix }

// Literal returns the one key the pattern matches, unescaped, and true when
// the pattern has no '*', '?' or class at all.
func (p *Pattern) Literal() (string, bool) {
	if !p.literal {
		return "", false
	}
	return p.prefix, true
}

// String returns the pattern as given to Compile.
func (p *Pattern) String() string { return p.src }

// QuoteMeta returns a pattern that matches s and nothing else, by escaping
// every character that is special somewhere in the syntax. Compile rejects
// the result if s is not a valid key (empty, NUL, invalid UTF-8) or if
// escaping makes it longer than MaxLen.
func QuoteMeta(s string) string {
	const special = `*?[]\^-`
	if !strings.ContainsAny(s, special) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(special, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

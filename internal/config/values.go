package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// wantErr is the one shape of a bad-value message: what the key takes and
// what it got.
func wantErr(want, got string) error {
	return fmt.Errorf("want %s, got %s", want, got)
}

// itemError marks a problem with one element of a list value, so that the
// message can name storage.redis.addrs[2] and the element's own line.
type itemError struct {
	index int
	line  int
	err   error
}

func (e *itemError) Error() string { return e.err.Error() }

// keyErr builds the KeyError for key, refining key and line when err is
// about one list element.
func keyErr(key string, line int, err error) *KeyError {
	var ie *itemError
	if errors.As(err, &ie) {
		key = fmt.Sprintf("%s[%d]", key, ie.index)
		if ie.line > 0 {
			line = ie.line
		}
		err = ie.err
	}
	return &KeyError{Key: key, Line: line, Err: err}
}

// quote quotes a value for a message, shortened so that a huge value cannot
// make a huge message.
func quote(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

// describe says what v is for a "got ..." message. With secret set it names
// the kind of value only.
func describe(v *node, secret bool) string {
	switch v.kind {
	case kindNull:
		return "null"
	case kindString:
		if secret {
			return "a string"
		}
		return quote(v.text)
	case kindInt:
		if v.big {
			return "an integer out of range"
		}
		if secret {
			return "an integer"
		}
		return strconv.FormatInt(v.i, 10)
	case kindFloat:
		if secret {
			return "a number"
		}
		return strconv.FormatFloat(v.f, 'g', -1, 64)
	case kindBool:
		if secret {
			return "a boolean"
		}
		return strconv.FormatBool(v.b)
	case kindDuration:
		if secret {
			return "a duration"
		}
		return "duration " + v.d.String()
	case kindMap:
		return "a mapping"
	case kindList:
		return "a list"
	}
	return v.desc
}

// expandEnv replaces each ${NAME} in s with the environment variable NAME
// and each $$ with a single $. A $ followed by anything else stays as it is.
// The result is not expanded again, so a variable's value may hold any $.
// Errors never quote s, which may be a secret.
func expandEnv(s string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated \"${\" at byte %d (write $$ for a literal $)", i)
			}
			name := s[i+2 : i+2+end]
			if !envName.MatchString(name) {
				return "", fmt.Errorf("malformed \"${...}\" at byte %d: want ${NAME}, NAME made of letters, digits and _ (write $$ for a literal $)", i)
			}
			val, ok := os.LookupEnv(name)
			if !ok {
				return "", fmt.Errorf("environment variable %s is not set", name)
			}
			b.WriteString(val)
			i += 2 + end + 1
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// getString reads a string value, expanding ${VAR}. A YAML number or
// timestamp stands for its written text (`password: 0123` is "0123").
func getString(v *node, secret bool) (string, error) {
	switch {
	case v.kind == kindString:
		return expandEnv(v.text)
	case v.textOK:
		return v.text, nil
	}
	return "", wantErr("a string", describe(v, secret))
}

// getInt reads an integer: a number without a fraction (JSON numbers are
// float64), or a string of decimal digits, e.g. from ${VAR}.
func getInt(v *node, want string, ok func(int64) bool) (int64, error) {
	var n int64
	got := describe(v, false)
	switch v.kind {
	case kindInt:
		if v.big {
			return 0, wantErr(want, got)
		}
		n = v.i
	case kindFloat:
		// -2^63 and 2^63 are exact floats: the bounds are precise.
		if v.f != math.Trunc(v.f) || v.f < math.MinInt64 || v.f >= math.MaxInt64 {
			return 0, wantErr(want, got)
		}
		n = int64(v.f)
	case kindString:
		s, err := expandEnv(v.text)
		if err != nil {
			return 0, err
		}
		got = quote(s)
		if n, err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, wantErr(want, got)
		}
	default:
		return 0, wantErr(want, got)
	}
	if !ok(n) {
		return 0, wantErr(want, got)
	}
	return n, nil
}

// getBool reads true/false, also as a string (yes/no and on/off too, as
// YAML 1.1 spelled them).
func getBool(v *node) (bool, error) {
	const want = "true or false"
	switch v.kind {
	case kindBool:
		return v.b, nil
	case kindString:
		s, err := expandEnv(v.text)
		if err != nil {
			return false, err
		}
		switch strings.ToLower(s) {
		case "true", "yes", "on":
			return true, nil
		case "false", "no", "off":
			return false, nil
		}
		return false, wantErr(want, quote(s))
	}
	return false, wantErr(want, describe(v, false))
}

// getDuration reads a duration in Go syntax ("5m", "1.5s"), or a
// time.Duration from a settings map. A bare number other than 0 is refused:
// its unit would be a guess.
func getDuration(v *node, r *durationRule) (time.Duration, error) {
	var d time.Duration
	got := describe(v, false)
	switch v.kind {
	case kindDuration:
		d = v.d
	case kindInt:
		// Zero needs no unit; any other bare number is ambiguous.
		if v.i != 0 || v.big {
			return 0, wantErr(r.want, got)
		}
	case kindString:
		s, err := expandEnv(v.text)
		if err != nil {
			return 0, err
		}
		got = quote(s)
		if d, err = time.ParseDuration(s); err != nil {
			return 0, wantErr(r.want, got)
		}
	default:
		return 0, wantErr(r.want, got)
	}
	if d < 0 || d == 0 && r.positive {
		err := wantErr(r.want, got)
		if d == 0 && r.zeroHint != "" {
			err = fmt.Errorf("%w (%s)", err, r.zeroHint)
		}
		return 0, err
	}
	return d, nil
}

type durationRule struct {
	want     string
	positive bool   // 0 is refused in YAML and settings
	zeroHint string // said when 0 is refused
}

// Size units: decimal and binary multiples of a byte.
var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
}

// parseSize reads "1048576", "16MiB", "16 MiB" or "500KB". Units ignore
// case; a fraction is not accepted.
func parseSize(s string) (int64, bool) {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, false
	}
	unit := s[i:]
	if rest, spaced := strings.CutPrefix(unit, " "); spaced {
		if rest == "" {
			return 0, false
		}
		unit = rest
	}
	mult, ok := sizeUnits[strings.ToLower(unit)]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, false
	}
	return n * mult, true
}

// getSize reads a number of bytes or a size string.
func getSize(v *node, want string, ok func(int64) bool) (int64, error) {
	if v.kind != kindString {
		return getInt(v, want, ok)
	}
	s, err := expandEnv(v.text)
	if err != nil {
		return 0, err
	}
	n, parsed := parseSize(s)
	if !parsed || !ok(n) {
		return 0, wantErr(want, quote(s))
	}
	return n, nil
}

// expandHome turns a leading "~" path element into the home directory.
func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") && !strings.HasPrefix(p, "~"+string(filepath.Separator)) {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot expand \"~\": %w", err)
	}
	return home + p[1:], nil
}

// The value rules, shared by Parse, FromSettings and Validate.

const maxValueSizeLimit = 1 << 30

var (
	backendName = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	tableName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
)

func validCount(n int64) bool { return n >= 0 && n <= math.MaxInt }

func validSize(n int64) bool { return n > 0 && n <= maxValueSizeLimit }

// validNamespace applies the key rules of CONTRACT §2; empty means none.
func validNamespace(s string) bool {
	return len(s) <= 1024 && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// driverNames maps the accepted spellings to the canonical driver name.
var driverNames = map[string]string{
	"sqlite":     "sqlite",
	"sqlite3":    "sqlite",
	"postgres":   "postgres",
	"postgresql": "postgres",
	"mysql":      "mysql",
	"mariadb":    "mysql",
}

// validAddr accepts host:port with a numeric port from 1 to 65535. An empty
// host is allowed: Go dials it as the local system.
func validAddr(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil || port == "" {
		return false
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	p, err := strconv.ParseUint(port, 10, 16)
	return err == nil && p > 0
}

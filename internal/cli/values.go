package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/driver"
)

// Types lists the names --type accepts: the value types of the dump format.
var Types = []string{
	"string", "bytes", "bool", "int", "int8", "int16", "int32", "int64",
	"uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64",
	"time", "json", "rawjson", "null", "string64", "rawjson64",
}

// ParseValue turns command-line text into a value.
//
// With typ "" the text is read as JSON when it is valid JSON, else taken as
// a string: a whole number becomes an int (uint64 or float64 when it does
// not fit), another number a float64, true/false a bool, null a null, a
// quoted string a string, an object or array the json type.
//
// With a type the text is read as that type: "string" takes the text as is;
// numbers and bools take their usual spelling; "time" takes RFC 3339;
// "bytes", "string64" and "rawjson64" take base64; "json" and "rawjson" take
// JSON text.
func ParseValue(text, typ string) (foxstore.Value, error) {
	const op = "parse value"
	bad := func(err error) (foxstore.Value, error) {
		return foxstore.Value{}, &foxstore.Error{Op: op, Code: foxstore.CodeInvalid, Err: err}
	}
	switch typ {
	case "":
		return guessValue(text)
	case "string":
		return driver.EncodeValue(text)
	case "time", "bytes", "rawjson", "string64", "rawjson64":
		// Their JSON form is a JSON string: accept the bare text too.
		var s string
		if json.Unmarshal([]byte(text), &s) != nil {
			q, _ := json.Marshal(text)
			text = string(q)
		}
	}
	if !slices.Contains(Types, typ) {
		return bad(fmt.Errorf("unknown type %q (want one of %s)", typ, strings.Join(Types, ", ")))
	}
	if typ == "json" {
		var c bytes.Buffer
		if err := json.Compact(&c, []byte(text)); err != nil {
			return bad(fmt.Errorf("not valid JSON: %v", err))
		}
		text = c.String()
	}
	v, err := driver.ValueFromJSON(typ, []byte(text))
	if err != nil {
		return bad(fmt.Errorf("%q is not a valid %s: %v", clip(text), typ, errors.Unwrap(err)))
	}
	return v, nil
}

func guessValue(text string) (foxstore.Value, error) {
	t := strings.TrimSpace(text)
	if t == "" || !json.Valid([]byte(t)) {
		return driver.EncodeValue(text)
	}
	switch c := t[0]; {
	case c == '"':
		var s string
		_ = json.Unmarshal([]byte(t), &s)
		return driver.EncodeValue(s)
	case c == '{' || c == '[':
		var b bytes.Buffer
		_ = json.Compact(&b, []byte(t))
		return driver.ValueFromJSON("json", b.Bytes())
	case t == "true" || t == "false":
		return driver.EncodeValue(t == "true")
	case t == "null":
		return driver.EncodeValue(nil)
	}
	if n, err := strconv.ParseInt(t, 10, 0); err == nil {
		return driver.EncodeValue(int(n))
	}
	if n, err := strconv.ParseUint(t, 10, 64); err == nil {
		return driver.EncodeValue(n)
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsInf(f, 0) {
		return foxstore.Value{}, &foxstore.Error{Op: "parse value", Code: foxstore.CodeInvalid,
			Err: fmt.Errorf("number %s is out of range; quote it or use --type string", clip(t))}
	}
	return driver.EncodeValue(f)
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// rawJSON is a value that json.Marshal writes as the JSON it holds: how a
// "json" Value goes through Set, which encodes with encoding/json.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

// GoValue returns what to pass to Set so that the store holds exactly v.
func GoValue(v foxstore.Value) (any, error) {
	if v.Kind() == driver.KindJSON {
		return rawJSON(v.JSON()), nil
	}
	return v.Decode()
}

// ParseTTL reads a TTL: a Go duration ("90s", "1h30m", "250ms") or whole
// days ("7d"); "0" means no expiry. A bare number is refused, since seconds
// and milliseconds are both common guesses.
func ParseTTL(s string) (time.Duration, error) {
	bad := func(format string, args ...any) (time.Duration, error) {
		return 0, &foxstore.Error{Op: "parse ttl", Code: foxstore.CodeInvalid, Err: fmt.Errorf(format, args...)}
	}
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 || n > 100000 {
			return bad("%q: want a whole number of days such as 7d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return bad("%q has no unit: write %ss for seconds or %sms for milliseconds", s, s, s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return bad("%q: want a duration such as 30s, 15m, 2h or 7d", s)
	}
	if d < 0 {
		return bad("%q: a TTL cannot be negative", s)
	}
	return d, nil
}

// FormatTTL writes a remaining TTL for people: whole milliseconds, "none"
// for a key that never expires.
func FormatTTL(d time.Duration, expires bool) string {
	if !expires {
		return "none"
	}
	return d.Round(time.Millisecond).String()
}

package driver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the Go type a Value was stored from.
type Kind uint8

// The kinds. Their numbers are the first byte of the binary form and never change.
const (
	KindNull Kind = iota + 1
	KindString
	KindBytes
	KindBool
	KindInt
	KindInt8
	KindInt16
	KindInt32
	KindInt64
	KindUint
	KindUint8
	KindUint16
	KindUint32
	KindUint64
	KindFloat32
	KindFloat64
	KindTime
	KindRawJSON // json.RawMessage, kept byte for byte
	KindJSON    // any other value, as encoding/json marshals it
	kindEnd
)

var kindNames = [kindEnd]string{
	KindNull: "null", KindString: "string", KindBytes: "bytes", KindBool: "bool",
	KindInt: "int", KindInt8: "int8", KindInt16: "int16", KindInt32: "int32", KindInt64: "int64",
	KindUint: "uint", KindUint8: "uint8", KindUint16: "uint16", KindUint32: "uint32", KindUint64: "uint64",
	KindFloat32: "float32", KindFloat64: "float64", KindTime: "time", KindRawJSON: "rawjson", KindJSON: "json",
}

// String returns the kind's name as used in the JSON form ("string", "int64", ...).
func (k Kind) String() string {
	if k > 0 && k < kindEnd {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// stringBase64 is the JSON type name of a string that is not valid UTF-8,
// which a JSON string cannot carry byte for byte; rawJSONBase64 the same
// for a json.RawMessage (encoding/json accepts any bytes inside its
// strings).
const (
	stringBase64  = "string64"
	rawJSONBase64 = "rawjson64"
)

// Value is an encoded, immutable value: what a backend stores. Backends that
// keep values in memory keep the Value itself (or its halves: see Parts);
// backends that persist bytes use Value.Bytes and ParseValue, or the JSON
// form (Value.Type, Value.JSON and ValueFromJSON). A Value never shares
// memory with the caller's value.
type Value struct {
	kind Kind
	// x is the Go value itself for strings, bools, numbers and times, and
	// the payload, as a string, for the bytes, rawjson and json kinds. One
	// interface keeps a Value at 24 bytes and lets Decode return a stored
	// string without allocating.
	x any
}

// raw returns the payload of the bytes, rawjson and json kinds.
func (v Value) raw() string {
	s, _ := v.x.(string)
	return s
}

// Kind returns the value's kind; 0 for the zero Value.
func (v Value) Kind() Kind { return v.kind }

// EncodeValue encodes a Go value under the value contract (CONTRACT §3).
// Values that cannot be encoded (channels, funcs, NaN, cycles, invalid
// json.RawMessage) give an error with code ErrStorageInvalid.
func EncodeValue(x any) (Value, error) {
	switch t := x.(type) {
	case nil:
		return Value{kind: KindNull}, nil
	case string:
		return Value{kind: KindString, x: x}, nil
	case []byte:
		return Value{kind: KindBytes, x: string(t)}, nil
	case bool:
		return Value{kind: KindBool, x: x}, nil
	case int:
		return Value{kind: KindInt, x: x}, nil
	case int8:
		return Value{kind: KindInt8, x: x}, nil
	case int16:
		return Value{kind: KindInt16, x: x}, nil
	case int32:
		return Value{kind: KindInt32, x: x}, nil
	case int64:
		return Value{kind: KindInt64, x: x}, nil
	case uint:
		return Value{kind: KindUint, x: x}, nil
	case uint8:
		return Value{kind: KindUint8, x: x}, nil
	case uint16:
		return Value{kind: KindUint16, x: x}, nil
	case uint32:
		return Value{kind: KindUint32, x: x}, nil
	case uint64:
		return Value{kind: KindUint64, x: x}, nil
	case float32:
		if math.IsNaN(float64(t)) || math.IsInf(float64(t), 0) {
			return Value{}, errNotFinite
		}
		return Value{kind: KindFloat32, x: x}, nil
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return Value{}, errNotFinite
		}
		return Value{kind: KindFloat64, x: x}, nil
	case time.Time:
		if t.Year() < 0 || t.Year() > 9999 {
			return Value{}, errors.New("time outside years 0-9999 cannot be stored")
		}
		// Round(0) drops the monotonic reading, which means nothing once stored.
		t = t.Round(0)
		if _, off := t.Zone(); off%60 != 0 {
			// RFC 3339 offsets have no seconds (local mean times do): keep
			// the instant, in UTC.
			t = t.UTC()
		}
		return Value{kind: KindTime, x: t}, nil
	case json.RawMessage:
		if t == nil {
			t = json.RawMessage("null")
		}
		if !json.Valid(t) {
			return Value{}, errors.New("json.RawMessage is not valid JSON")
		}
		return Value{kind: KindRawJSON, x: string(t)}, nil
	}
	if isNilFunc(x) {
		return Value{}, fmt.Errorf("values of type %T cannot be stored", x)
	}
	b, err := json.Marshal(x)
	if err != nil {
		return Value{}, fmt.Errorf("value of type %T is not JSON-encodable: %w", x, err)
	}
	return Value{kind: KindJSON, x: string(b)}, nil
}

var errNotFinite = errors.New("NaN and infinite floats cannot be stored")

// isNilFunc catches nil funcs and channels, which encoding/json would marshal
// as null instead of refusing.
func isNilFunc(x any) bool {
	switch reflect.TypeOf(x).Kind() {
	case reflect.Func, reflect.Chan, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return true
	}
	return false
}

// Decode returns a fresh Go value: the stored Go type for the kinds listed in
// CONTRACT §3, the encoding/json form of anything else.
func (v Value) Decode() (any, error) {
	switch v.kind {
	case KindNull:
		return nil, nil
	case KindBytes:
		return []byte(v.raw()), nil
	case KindRawJSON:
		return json.RawMessage(v.raw()), nil
	case KindJSON:
		var out any
		if err := json.Unmarshal([]byte(v.raw()), &out); err != nil {
			return nil, err
		}
		return out, nil
	case 0:
		return nil, errors.New("zero Value")
	}
	return v.x, nil
}

// Plain returns the value itself, and true, for the kinds whose Value holds
// the Go value as it is (strings, bools, numbers, times): Decode's answer,
// without its cost. For the other kinds it returns false.
func (v Value) Plain() (any, bool) {
	// One test of a bit, where a switch compared the kind up to four times:
	// Plain is on the path of every read (BENCHMARKS.md, session 7). Every
	// Value's kind is below kindEnd, so the mask of 63 never changes it.
	if plainKinds>>(v.kind&63)&1 == 0 {
		return nil, false
	}
	return v.x, true
}

// plainKinds has bit k set for each kind k whose Value holds the Go value
// as it is.
const plainKinds uint64 = 1<<KindString | 1<<KindBool |
	1<<KindInt | 1<<KindInt8 | 1<<KindInt16 | 1<<KindInt32 | 1<<KindInt64 |
	1<<KindUint | 1<<KindUint8 | 1<<KindUint16 | 1<<KindUint32 | 1<<KindUint64 |
	1<<KindFloat32 | 1<<KindFloat64 | 1<<KindTime

// plainKinds has room for 64 kinds: this array has length 1 only while
// there are no more, so a 65th fails to compile here.
var _ = [1]struct{}{}[(kindEnd-1)/64]

// Parts returns the two halves of v: its kind and the Go value (or, for
// the bytes, rawjson and json kinds, the payload string) that holds it.
// With JoinValue they let a backend keep values in a form of its own: the
// memory backend keeps the halves in words it updates in place with atomic
// stores. The Go value is shared with v and must not be changed.
func (v Value) Parts() (Kind, any) { return v.kind, v.x }

// JoinValue returns the Value whose halves Parts returned. It returns false
// (and the zero Value) when k is not a kind, or x is not of the Go type that
// Values of kind k hold, so that halves that did not come from Parts cannot
// make a Value whose methods fail. The check is cheap (a type assertion
// for a string, one comparison of reflect types otherwise): the memory
// backend calls JoinValue on every read.
func JoinValue(k Kind, x any) (Value, bool) {
	if k == KindString { // the commonest kind, checked without reflect
		if _, ok := x.(string); !ok {
			return Value{}, false
		}
		return Value{kind: k, x: x}, true
	}
	if reflect.TypeOf(x) != kindTypes[k] {
		return Value{}, false
	}
	return Value{kind: k, x: x}, true
}

// kindTypes is the Go type of a Value's x for each kind (nil for null), and
// for every other byte one that no x has.
var kindTypes = func() (t [256]reflect.Type) {
	for k := range t {
		t[k] = reflect.TypeFor[notAKind]()
	}
	str := reflect.TypeFor[string]()
	t[KindNull] = nil
	t[KindString], t[KindBytes], t[KindRawJSON], t[KindJSON] = str, str, str, str
	t[KindBool] = reflect.TypeFor[bool]()
	t[KindInt], t[KindInt8], t[KindInt16] = reflect.TypeFor[int](), reflect.TypeFor[int8](), reflect.TypeFor[int16]()
	t[KindInt32], t[KindInt64] = reflect.TypeFor[int32](), reflect.TypeFor[int64]()
	t[KindUint], t[KindUint8], t[KindUint16] = reflect.TypeFor[uint](), reflect.TypeFor[uint8](), reflect.TypeFor[uint16]()
	t[KindUint32], t[KindUint64] = reflect.TypeFor[uint32](), reflect.TypeFor[uint64]()
	t[KindFloat32], t[KindFloat64] = reflect.TypeFor[float32](), reflect.TypeFor[float64]()
	t[KindTime] = reflect.TypeFor[time.Time]()
	return t
}()

// notAKind is the type kindTypes gives the bytes that are not kinds: no
// value outside this package can have it.
type notAKind struct{}

// DecodeInto stores the value into the variable ptr points to, as
// json.Unmarshal would, or by plain assignment when the types match.
func (v Value) DecodeInto(ptr any) error {
	rv := reflect.ValueOf(ptr)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("DecodeInto needs a non-nil pointer")
	}
	dst := rv.Elem()
	switch v.kind {
	case KindJSON, KindRawJSON:
		if dst.Type() == reflect.TypeFor[json.RawMessage]() {
			dst.SetBytes([]byte(v.raw()))
			return nil
		}
		return json.Unmarshal([]byte(v.raw()), ptr)
	case KindBytes:
		if dst.Kind() == reflect.Slice && dst.Type().Elem().Kind() == reflect.Uint8 {
			dst.SetBytes([]byte(v.raw()))
			return nil
		}
	case KindNull:
		dst.SetZero()
		return nil
	}
	x, err := v.Decode()
	if err != nil {
		return err
	}
	if x != nil {
		xv := reflect.ValueOf(x)
		if xv.Type().AssignableTo(dst.Type()) {
			dst.Set(xv)
			return nil
		}
	}
	b, err := json.Marshal(x)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, ptr)
}

// Size is the length of the binary form, the figure max_value_size limits.
func (v Value) Size() int {
	switch v.kind {
	case KindString:
		return 1 + len(v.x.(string))
	case KindBytes, KindRawJSON, KindJSON:
		return 1 + len(v.raw())
	case KindNull:
		return 1
	}
	return len(v.Bytes())
}

// Bytes returns the binary form: one kind byte, then the payload (text for
// numbers, bools and times; raw bytes otherwise). ParseValue reverses it.
func (v Value) Bytes() []byte {
	return v.AppendBytes(make([]byte, 0, 1+len(v.raw())+16))
}

// AppendBytes appends the binary form to b.
func (v Value) AppendBytes(b []byte) []byte {
	b = append(b, byte(v.kind))
	switch v.kind {
	case KindString:
		return append(b, v.x.(string)...)
	case KindBytes, KindRawJSON, KindJSON:
		return append(b, v.raw()...)
	case KindTime:
		return v.x.(time.Time).AppendFormat(b, time.RFC3339Nano)
	case KindNull:
		return b
	}
	return appendScalarText(b, v.x)
}

func appendScalarText(b []byte, x any) []byte {
	switch t := x.(type) {
	case bool:
		return strconv.AppendBool(b, t)
	case int:
		return strconv.AppendInt(b, int64(t), 10)
	case int8:
		return strconv.AppendInt(b, int64(t), 10)
	case int16:
		return strconv.AppendInt(b, int64(t), 10)
	case int32:
		return strconv.AppendInt(b, int64(t), 10)
	case int64:
		return strconv.AppendInt(b, t, 10)
	case uint:
		return strconv.AppendUint(b, uint64(t), 10)
	case uint8:
		return strconv.AppendUint(b, uint64(t), 10)
	case uint16:
		return strconv.AppendUint(b, uint64(t), 10)
	case uint32:
		return strconv.AppendUint(b, uint64(t), 10)
	case uint64:
		return strconv.AppendUint(b, t, 10)
	case float32:
		return strconv.AppendFloat(b, float64(t), 'g', -1, 32)
	case float64:
		return strconv.AppendFloat(b, t, 'g', -1, 64)
	}
	panic(fmt.Sprintf("foxstore: no text form for %T", x))
}

// ParseValue parses the binary form made by Value.Bytes. It copies b. Damaged
// input gives an error with code ErrStorageCorrupted.
func ParseValue(b []byte) (Value, error) {
	if len(b) == 0 {
		return Value{}, corrupt("empty value")
	}
	return parsePayload(Kind(b[0]), b[1:], false)
}

// parsePayload builds a Value of kind k from its payload; for the JSON form
// (fromJSON) numbers, times and strings arrive as JSON texts.
func parsePayload(k Kind, p []byte, fromJSON bool) (Value, error) {
	bad := func(err error) (Value, error) {
		return Value{}, corrupt(fmt.Sprintf("bad %s payload: %v", k, err))
	}
	switch k {
	case KindNull:
		if fromJSON && string(p) != "null" || !fromJSON && len(p) != 0 {
			return bad(errors.New("payload after null"))
		}
		return Value{kind: KindNull}, nil
	case KindString:
		if fromJSON {
			var s string
			if err := json.Unmarshal(p, &s); err != nil {
				return bad(err)
			}
			return Value{kind: KindString, x: s}, nil
		}
		return Value{kind: KindString, x: string(p)}, nil
	case KindBytes:
		if fromJSON {
			var raw []byte
			if err := json.Unmarshal(p, &raw); err != nil {
				return bad(err)
			}
			return Value{kind: KindBytes, x: string(raw)}, nil
		}
		return Value{kind: KindBytes, x: string(p)}, nil
	case KindRawJSON:
		if fromJSON {
			var s string
			if err := json.Unmarshal(p, &s); err != nil {
				return bad(err)
			}
			p = []byte(s)
		}
		if !json.Valid(p) {
			return bad(errors.New("not valid JSON"))
		}
		return Value{kind: KindRawJSON, x: string(p)}, nil
	case KindJSON:
		if !json.Valid(p) {
			return bad(errors.New("not valid JSON"))
		}
		// Space around the value is no part of it: encoding/json never
		// writes any, the JSON form drops it, and a JSON line with it
		// after a number would not parse.
		return Value{kind: KindJSON, x: string(bytes.TrimSpace(p))}, nil
	case KindTime:
		if fromJSON {
			var s string
			if err := json.Unmarshal(p, &s); err != nil {
				return bad(err)
			}
			p = []byte(s)
		}
		t, err := time.Parse(time.RFC3339Nano, string(p))
		if err != nil {
			return bad(err)
		}
		return Value{kind: KindTime, x: t}, nil
	case KindBool:
		bv, err := strconv.ParseBool(string(p))
		if err != nil {
			return bad(err)
		}
		return Value{kind: k, x: bv}, nil
	}
	x, err := parseNumber(k, string(p))
	if err != nil {
		return bad(err)
	}
	return Value{kind: k, x: x}, nil
}

// intBits is the size of each integer kind.
var intBits = [kindEnd]int{
	KindInt: strconv.IntSize, KindInt8: 8, KindInt16: 16, KindInt32: 32, KindInt64: 64,
	KindUint: strconv.IntSize, KindUint8: 8, KindUint16: 16, KindUint32: 32, KindUint64: 64,
}

func parseNumber(k Kind, s string) (any, error) {
	switch k {
	case KindInt, KindInt8, KindInt16, KindInt32, KindInt64:
		n, err := strconv.ParseInt(s, 10, intBits[k])
		if err != nil {
			return nil, err
		}
		switch k {
		case KindInt:
			return int(n), nil
		case KindInt8:
			return int8(n), nil
		case KindInt16:
			return int16(n), nil
		case KindInt32:
			return int32(n), nil
		}
		return n, nil
	case KindUint, KindUint8, KindUint16, KindUint32, KindUint64:
		n, err := strconv.ParseUint(s, 10, intBits[k])
		if err != nil {
			return nil, err
		}
		switch k {
		case KindUint:
			return uint(n), nil
		case KindUint8:
			return uint8(n), nil
		case KindUint16:
			return uint16(n), nil
		case KindUint32:
			return uint32(n), nil
		}
		return n, nil
	case KindFloat32:
		f, err := strconv.ParseFloat(s, 32)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("bad float32 %q", s)
		}
		return float32(f), nil
	case KindFloat64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("bad float64 %q", s)
		}
		return f, nil
	}
	return nil, fmt.Errorf("unknown kind %d", k)
}

func corrupt(msg string) error {
	return &Error{Code: CodeCorrupted, Err: errors.New(msg)}
}

// Type returns the name of the value's type in the JSON form: the kind's
// name, or "string64" for a string and "rawjson64" for a json.RawMessage
// that are not valid UTF-8.
func (v Value) Type() string {
	switch {
	case v.kind == KindString && !utf8.ValidString(v.x.(string)):
		return stringBase64
	case v.kind == KindRawJSON && !utf8.ValidString(v.raw()):
		return rawJSONBase64
	}
	return v.kind.String()
}

// JSON returns the value as JSON text for a person to read: strings as JSON
// strings, numbers as JSON numbers, bytes and the "string64" and
// "rawjson64" types in base64, times in RFC 3339, rawjson as a JSON string
// holding its exact bytes, and the json kind as the JSON itself.
// ValueFromJSON(v.Type(), v.JSON()) gives v back.
func (v Value) JSON() []byte {
	switch v.kind {
	case KindString:
		s := v.x.(string)
		if !utf8.ValidString(s) {
			out, _ := json.Marshal([]byte(s))
			return out
		}
		out, _ := json.Marshal(s)
		return out
	case KindBytes:
		out, _ := json.Marshal([]byte(v.raw()))
		return out
	case KindRawJSON:
		if !utf8.ValidString(v.raw()) {
			out, _ := json.Marshal([]byte(v.raw()))
			return out
		}
		out, _ := json.Marshal(v.raw())
		return out
	case KindJSON:
		return []byte(v.raw())
	case KindNull:
		return []byte("null")
	case KindTime:
		return strconv.AppendQuote(nil, v.x.(time.Time).Format(time.RFC3339Nano))
	}
	return appendScalarText(nil, v.x)
}

// ValueFromJSON is the inverse of Type and JSON. Damaged input gives an error
// with code ErrStorageCorrupted.
//
// Strings and bytes, the commonest types, are decoded without reflection
// when they hold nothing unusual; whatever the fast paths do not handle
// goes through encoding/json, whose results they match exactly.
func ValueFromJSON(typ string, data []byte) (Value, error) {
	data = bytes.TrimSpace(data)
	switch typ {
	case "string":
		if s, ok := quickString(data); ok {
			return Value{kind: KindString, x: s}, nil
		}
	case "bytes":
		if b, ok := quickBase64(data); ok {
			return Value{kind: KindBytes, x: b}, nil
		}
	case stringBase64:
		raw, err := base64Payload(data)
		if err != nil {
			return Value{}, corrupt("bad string64 payload: " + err.Error())
		}
		return Value{kind: KindString, x: raw}, nil
	case rawJSONBase64:
		raw, err := base64Payload(data)
		if err == nil && !json.Valid([]byte(raw)) {
			err = errors.New("not valid JSON")
		}
		if err != nil {
			return Value{}, corrupt("bad rawjson64 payload: " + err.Error())
		}
		return Value{kind: KindRawJSON, x: raw}, nil
	}
	for k := KindNull; k < kindEnd; k++ {
		if kindNames[k] == typ {
			return parsePayload(k, data, true)
		}
	}
	return Value{}, corrupt(fmt.Sprintf("unknown value type %q", typ))
}

// ParseJSONString decodes b, which must be one JSON string with no space
// around it, into the string encoding/json gives: escapes resolved, invalid
// UTF-8 and lone surrogates replaced by U+FFFD. Plain strings and the
// usual escapes take a fast path without reflection; the rest go through
// encoding/json. It is what ValueFromJSON uses for strings, for backends
// that read keys from the JSON form too.
func ParseJSONString(b []byte) (string, error) {
	if s, ok := quickString(b); ok {
		return s, nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", errors.New("not a JSON string")
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return "", err
	}
	return s, nil
}

// quickString decodes the JSON string that is exactly b when it is made of
// valid UTF-8 with no escape other than the usual ones; ok is false for
// anything else, which encoding/json must decide.
func quickString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	in := b[1 : len(b)-1]
	plain := true
	for _, c := range in {
		if c < 0x20 || c == '\\' || c == '"' {
			plain = false
			break
		}
	}
	if plain && utf8.Valid(in) {
		return string(in), true
	}
	return unescape(in)
}

// unescape decodes the inside of a JSON string made of valid UTF-8 and the
// usual escapes; ok is false for anything else: control characters, bad
// escapes, surrogates (paired or not), invalid UTF-8.
func unescape(in []byte) (string, bool) {
	var out strings.Builder
	out.Grow(len(in))
	for i := 0; i < len(in); {
		c := in[i]
		switch {
		case c == '\\':
			if i+1 >= len(in) {
				return "", false
			}
			switch e := in[i+1]; e {
			case '"', '\\', '/':
				out.WriteByte(e)
			case 'b':
				out.WriteByte('\b')
			case 'f':
				out.WriteByte('\f')
			case 'n':
				out.WriteByte('\n')
			case 'r':
				out.WriteByte('\r')
			case 't':
				out.WriteByte('\t')
			case 'u':
				r, ok := hex4(in[i+2:])
				if !ok || utf16.IsSurrogate(r) {
					return "", false
				}
				out.WriteRune(r)
				i += 6
				continue
			default:
				return "", false
			}
			i += 2
		case c < 0x20 || c == '"':
			return "", false
		case c < utf8.RuneSelf:
			// Copy the run of plain ASCII up to the next escape at once.
			j := i + 1
			for j < len(in) && in[j] >= 0x20 && in[j] < utf8.RuneSelf && in[j] != '\\' && in[j] != '"' {
				j++
			}
			out.Write(in[i:j])
			i = j
		default:
			r, n := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && n == 1 {
				return "", false
			}
			out.Write(in[i : i+n])
			i += n
		}
	}
	return out.String(), true
}

// hex4 decodes the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// quickBase64 decodes the JSON string that is exactly b as base64, as
// encoding/json decodes a []byte, when the string holds base64 and nothing
// else; ok is false for anything else. encoding/json resolves escapes
// first, and the decoder skips raw line breaks, which JSON forbids: both
// are left to encoding/json.
func quickBase64(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	in := b[1 : len(b)-1]
	if bytes.IndexByte(in, '\n') >= 0 || bytes.IndexByte(in, '\r') >= 0 {
		return "", false
	}
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(in)))
	n, err := base64.StdEncoding.Decode(raw, in)
	if err != nil {
		return "", false
	}
	return string(raw[:n]), true
}

// base64Payload decodes the JSON string that is exactly data as base64.
func base64Payload(data []byte) (string, error) {
	if raw, ok := quickBase64(data); ok {
		return raw, nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return "", err
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	return string(raw), err
}

// Equal reports whether two values are the same encoded value.
func (v Value) Equal(w Value) bool {
	if v.kind != w.kind {
		return false
	}
	switch v.kind {
	case KindTime:
		a, b := v.x.(time.Time), w.x.(time.Time)
		return a.Equal(b) && a.Format(time.RFC3339Nano) == b.Format(time.RFC3339Nano)
	case KindBytes, KindRawJSON, KindJSON, KindNull:
		return v.raw() == w.raw()
	}
	return v.x == w.x
}

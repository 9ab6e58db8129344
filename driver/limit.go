package driver

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
)

// EncodeValueMax is EncodeValue for values whose binary form may be at most
// max bytes. It refuses a value that is too big before copying or encoding
// it where it can tell (strings, bytes, and JSON values whose encoding must
// be longer than max), so refusing a huge value does not cost memory in
// proportion to its encoded form. Errors are ErrStorageInvalid causes.
func EncodeValueMax(x any, max int64) (Value, error) {
	tooBig := func(n int64) error {
		return fmt.Errorf("encoded value is at least %d bytes, more than max_value_size %d", n, max)
	}
	switch t := x.(type) {
	case string:
		// The common value, done here: EncodeValue and Size would only
		// switch on its type twice more to say the same (a string's
		// binary form is its kind byte and its bytes).
		if n := 1 + int64(len(t)); n > max {
			return Value{}, tooBig(n)
		}
		return Value{kind: KindString, x: x}, nil
	case []byte:
		if n := 1 + int64(len(t)); n > max {
			return Value{}, tooBig(n)
		}
	case json.RawMessage:
		if n := 1 + int64(len(t)); n > max {
			return Value{}, tooBig(n)
		}
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, time.Time:
	default:
		if n := 1 + jsonLowerBound(reflect.ValueOf(x), max, 0); n > max {
			return Value{}, tooBig(n)
		}
	}
	v, err := EncodeValue(x)
	if err != nil {
		return Value{}, err
	}
	if n := int64(v.Size()); n > max {
		return Value{}, fmt.Errorf("encoded value is %d bytes, more than max_value_size %d", n, max)
	}
	return v, nil
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// jsonLowerBound returns a number of bytes that encoding/json's output for v
// is sure to reach, walking v until the bound passes budget. Where it cannot
// tell (custom marshalers, omitempty fields, embedded structs, deep nesting)
// it counts 0, so the bound stays a bound.
func jsonLowerBound(v reflect.Value, budget int64, depth int) int64 {
	if !v.IsValid() || depth > 32 {
		return 0
	}
	t := v.Type()
	info := jsonInfoOf(t)
	if info.opaque {
		return 0
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return 4 // null
		}
		return jsonLowerBound(v.Elem(), budget, depth+1)
	case reflect.String:
		return int64(v.Len()) + 2
	case reflect.Bool:
		return 4
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return 4
		}
		if t.Elem().Kind() == reflect.Uint8 && v.Kind() == reflect.Slice {
			return (int64(v.Len())+2)/3*4 + 2 // base64
		}
		n := int64(1 + v.Len()) // brackets and commas
		for i := 0; i < v.Len() && n <= budget; i++ {
			n += jsonLowerBound(v.Index(i), budget-n, depth+1)
		}
		return n
	case reflect.Map:
		if v.IsNil() {
			return 4
		}
		n := int64(1 + 4*v.Len()) // braces, quotes, colons, commas
		it := v.MapRange()
		for it.Next() && n <= budget {
			n += jsonLowerBound(it.Value(), budget-n, depth+1)
		}
		return n
	case reflect.Struct:
		n := int64(2)
		for _, i := range info.fields {
			if n > budget {
				break
			}
			n += jsonLowerBound(v.Field(i), budget-n, depth+1)
		}
		return n
	}
	return 1 // numbers
}

// jsonInfo is what jsonLowerBound needs to know of a type, worked out once
// per type: asking reflect whether a type implements an interface, and
// reading a struct's fields and tags, cost more than the rest of the walk (a
// Set of a small struct spent half its time here).
type jsonInfo struct {
	opaque bool  // a json or text marshaler: its output cannot be told
	fields []int // for a struct, the fields the bound counts
}

var jsonInfos sync.Map // reflect.Type → *jsonInfo; as many as the program's types

func jsonInfoOf(t reflect.Type) *jsonInfo {
	if info, ok := jsonInfos.Load(t); ok {
		return info.(*jsonInfo)
	}
	info := &jsonInfo{
		opaque: t.Implements(jsonMarshaler) || t.Implements(textMarshaler) ||
			reflect.PointerTo(t).Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(textMarshaler),
	}
	if t.Kind() == reflect.Struct && !info.opaque {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if !f.IsExported() || f.Anonymous || tag == "-" || strings.Contains(tag, "omit") {
				continue
			}
			info.fields = append(info.fields, i)
		}
	}
	actual, _ := jsonInfos.LoadOrStore(t, info)
	return actual.(*jsonInfo)
}

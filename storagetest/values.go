package storagetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

// sameValue reports how got differs from want under the value contract
// (CONTRACT §3), or "" when it does not: same Go type, and the same value,
// where times compare as instants and byte slices by content.
func sameValue(want, got any) string {
	if want == nil {
		if got != nil {
			return fmt.Sprintf("got %s, want nil", describe(got))
		}
		return ""
	}
	if reflect.TypeOf(got) != reflect.TypeOf(want) {
		return fmt.Sprintf("got %s, want %s", describe(got), describe(want))
	}
	equal := false
	switch w := want.(type) {
	case time.Time:
		equal = w.Equal(got.(time.Time))
	case []byte:
		equal = bytes.Equal(w, got.([]byte))
	case json.RawMessage:
		equal = bytes.Equal(w, got.(json.RawMessage))
	case string:
		equal = w == got.(string)
	default:
		equal = reflect.DeepEqual(want, got)
	}
	if !equal {
		return fmt.Sprintf("got %s, want %s", describe(got), describe(want))
	}
	return ""
}

// describe prints a value with its type for a message, shortening big ones.
func describe(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		s = q(x)
	case []byte:
		s = q(string(x))
	case json.RawMessage:
		s = q(string(x))
	case time.Time:
		s = x.Format(time.RFC3339Nano)
	default:
		s = fmt.Sprintf("%#v", v)
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return fmt.Sprintf("%T(%s)", v, s)
}

// jsonForm is what CONTRACT §3 says Get returns for a value outside the
// native types: the value as encoding/json decodes its encoding into any.
func jsonForm(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("storagetest: jsonForm(%T): %v", v, err))
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("storagetest: jsonForm(%T): %v", v, err))
	}
	return out
}

type valueCase struct {
	name string
	in   any // what is stored
	want any // what Get must return
}

// allBytes returns the 256 byte values in order.
func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// nativeValues are values of the types that come back from Get with their
// own Go type (CONTRACT §3).
func nativeValues() []valueCase {
	zone := time.FixedZone("IST", 5*3600+30*60)
	cases := []valueCase{
		{name: "string/empty", in: ""},
		{name: "string/ascii", in: "hello, world"},
		{name: "string/unicode", in: "日本語 é 🦊 \u2028"},
		{name: "string/invalid-utf8", in: "\xff\xfe ok \xc3"},
		{name: "string/all-bytes", in: string(allBytes())},
		{name: "bytes/empty", in: []byte{}},
		{name: "bytes/nil", in: []byte(nil), want: []byte{}},
		{name: "bytes/all", in: allBytes()},
		{name: "bytes/zeros", in: []byte{0, 0, 0}},
		{name: "bool/true", in: true},
		{name: "bool/false", in: false},
		{name: "int/zero", in: 0},
		{name: "int/min", in: math.MinInt},
		{name: "int/max", in: math.MaxInt},
		{name: "int8/min", in: int8(math.MinInt8)},
		{name: "int8/max", in: int8(math.MaxInt8)},
		{name: "int16/min", in: int16(math.MinInt16)},
		{name: "int16/max", in: int16(math.MaxInt16)},
		{name: "int32/min", in: int32(math.MinInt32)},
		{name: "int32/max", in: int32(math.MaxInt32)},
		{name: "int64/min", in: int64(math.MinInt64)},
		{name: "int64/max", in: int64(math.MaxInt64)},
		{name: "int64/2^53+1", in: int64(1<<53 + 1)},
		{name: "uint/max", in: uint(math.MaxUint)},
		{name: "uint8/max", in: uint8(math.MaxUint8)},
		{name: "uint16/max", in: uint16(math.MaxUint16)},
		{name: "uint32/max", in: uint32(math.MaxUint32)},
		{name: "uint64/zero", in: uint64(0)},
		{name: "uint64/max", in: uint64(math.MaxUint64)},
		{name: "float32/smallest-denormal", in: float32(math.SmallestNonzeroFloat32)},
		{name: "float32/max", in: float32(math.MaxFloat32)},
		{name: "float32/0.1", in: float32(0.1)},
		{name: "float32/-1.5", in: float32(-1.5)},
		{name: "float64/smallest-denormal", in: math.SmallestNonzeroFloat64},
		{name: "float64/max", in: math.MaxFloat64},
		{name: "float64/-max", in: -math.MaxFloat64},
		{name: "float64/0.1", in: 0.1},
		{name: "float64/1e-300", in: 1e-300},
		{name: "float64/whole", in: 3.0},
		// -0 == 0 in Go, so this only checks the type; the sign bit is not
		// part of "the same value" (see sameValue).
		{name: "float64/negative-zero", in: math.Copysign(0, -1)},
		{name: "time/nanoseconds-zone", in: time.Date(2024, 2, 29, 23, 59, 58, 123456789, zone)},
		{name: "time/utc", in: time.Date(1999, 12, 31, 0, 0, 0, 1, time.UTC)},
		{name: "time/now", in: time.Now()},
		{name: "time/zero", in: time.Time{}},
		{name: "rawjson/whitespace", in: json.RawMessage(" {\n\t\"b\" : [1, 2 ,3],  \"a\":null }\n")},
		{name: "rawjson/big-number", in: json.RawMessage(`123456789012345678901234567890`)},
		{name: "rawjson/escapes", in: json.RawMessage(`"\u00e9\n\/"`)},
		{name: "rawjson/duplicate-keys", in: json.RawMessage(`{"a":1,"a":2}`)},
		{name: "nil", in: nil},
	}
	for i := range cases {
		if cases[i].want == nil {
			cases[i].want = cases[i].in
		}
	}
	return cases
}

type point struct {
	X, Y int
}

type record struct {
	Name   string          `json:"name"`
	Tags   []string        `json:"tags"`
	Attrs  map[string]int  `json:"attrs"`
	Next   *point          `json:"next,omitempty"`
	Big    int64           `json:"big"`
	Max    uint64          `json:"max"`
	Ratio  float64         `json:"ratio"`
	Blob   []byte          `json:"blob"`
	Raw    json.RawMessage `json:"raw"`
	Hidden string          `json:"-"`
	point
}

type (
	myInt    int
	myString string
	myBytes  []byte
)

func sampleRecord() record {
	return record{
		Name:  "Fox é",
		Tags:  []string{"a", "b"},
		Attrs: map[string]int{"x": 1, "y": -2},
		Next:  &point{X: 3, Y: 4},
		Big:   1<<53 + 1,
		Max:   math.MaxUint64,
		Ratio: 0.1,
		Blob:  []byte{0, 1, 2, 255},
		Raw:   json.RawMessage(`{"k":[1,2]}`),
		point: point{X: 5, Y: 6},
	}
}

// jsonValues are values outside the native types: Get returns their JSON
// form (CONTRACT §3).
func jsonValues() []valueCase {
	cases := []valueCase{
		{name: "struct", in: sampleRecord()},
		{name: "pointer", in: &point{X: 1, Y: 2}},
		{name: "pointer/nil", in: (*point)(nil)},
		{name: "map/any", in: map[string]any{"a": 1, "b": []any{"x", true, nil, 2.5}, "c": map[string]any{}}},
		{name: "map/int-keys", in: map[int]string{1: "one", 20: "twenty"}},
		{name: "map/nil", in: map[string]int(nil)},
		{name: "slice/int", in: []int{1, 2, 3}},
		{name: "slice/empty", in: []string{}},
		{name: "slice/nil", in: []int(nil)},
		{name: "slice/bytes", in: [][]byte{{1, 2}, nil}},
		{name: "array", in: [2]bool{true, false}},
		// Named types are types of their own, not the native types they are
		// built on: they come back in JSON form too.
		{name: "named-int", in: myInt(7)},
		{name: "named-string", in: myString("seven")},
		{name: "named-bytes", in: myBytes("seven")},
		{name: "duration", in: 1500 * time.Millisecond},
		{name: "json.Number", in: json.Number("12.5")},
	}
	for i := range cases {
		cases[i].want = jsonForm(cases[i].in)
	}
	return cases
}

func testValues(t *testing.T, s *suite) {
	s.run(t, "Native", func(t *testing.T, st store) { checkRoundTrip(t, st, nativeValues()) })
	s.run(t, "JSONForm", func(t *testing.T, st store) { checkRoundTrip(t, st, jsonValues()) })
	s.run(t, "GetAs", testGetAs)
	s.run(t, "NoAliasing", testNoAliasing)
	s.run(t, "Unencodable", testUnencodable)
	s.run(t, "MaxSize", testMaxSize)
}

// checkRoundTrip writes every case through each write path (Set, SetBatch,
// tx.Set) and reads it back through each read path (Get, GetBatch, Find,
// tx.Get).
func checkRoundTrip(t *testing.T, st foxstore.StoragePlugin, cases []valueCase) {
	ctx := t.Context()
	key := func(path string, i int) string { return fmt.Sprintf("%s:%02d", path, i) }

	for i, c := range cases {
		noErr(t, st.Set(ctx, key("set", i), c.in, 0), "Set %s", c.name)
	}
	batch := make(map[string]any, len(cases))
	for i, c := range cases {
		batch[key("batch", i)] = c.in
	}
	noErr(t, st.SetBatch(ctx, batch), "SetBatch")
	tx := mustBegin(t, st)
	for i, c := range cases {
		noErr(t, tx.Set(key("tx", i), c.in), "tx.Set %s", c.name)
	}
	noErr(t, tx.Commit(), "Commit")

	for _, path := range []string{"set", "batch", "tx"} {
		keys := make([]string, len(cases))
		for i := range cases {
			keys[i] = key(path, i)
		}
		for i, c := range cases {
			got, err := st.Get(ctx, keys[i])
			if noErr(t, err, "%s written by %s, Get", c.name, path) {
				if p := sameValue(c.want, got); p != "" {
					t.Errorf("%s written by %s, Get: %s", c.name, path, p)
				}
			}
		}

		m, err := st.GetBatch(ctx, keys)
		if noErr(t, err, "GetBatch of values written by %s", path) {
			checkResults(t, "GetBatch", path, cases, keys, m)
		}
		m, err = st.Find(ctx, path+":*")
		if noErr(t, err, "Find of values written by %s", path) {
			checkResults(t, "Find", path, cases, keys, m)
		}

		tx := mustBegin(t, st)
		for i, c := range cases {
			got, err := tx.Get(keys[i])
			if noErr(t, err, "%s written by %s, tx.Get", c.name, path) {
				if p := sameValue(c.want, got); p != "" {
					t.Errorf("%s written by %s, tx.Get: %s", c.name, path, p)
				}
			}
		}
		noErr(t, tx.Rollback(), "Rollback")
	}
}

// checkResults compares a GetBatch or Find result with the cases written under keys.
func checkResults(t *testing.T, op, path string, cases []valueCase, keys []string, m map[string]any) {
	t.Helper()
	if len(m) != len(keys) {
		t.Errorf("%s of values written by %s: got %d entries, want %d", op, path, len(m), len(keys))
	}
	for i, c := range cases {
		got, ok := m[keys[i]]
		if !ok {
			t.Errorf("%s: %s written by %s is missing", op, c.name, path)
			continue
		}
		if p := sameValue(c.want, got); p != "" {
			t.Errorf("%s: %s written by %s: %s", op, c.name, path, p)
		}
	}
}

// roundTripAs stores v and checks that GetAs[T] gives it back exactly.
func roundTripAs[T any](t *testing.T, st foxstore.StoragePlugin, key string, v T, equal func(a, b T) bool) {
	t.Helper()
	if err := st.Set(t.Context(), key, v, 0); !noErr(t, err, "Set(%s, %T)", q(key), v) {
		return
	}
	got, err := foxstore.GetAs[T](t.Context(), st, key)
	if !noErr(t, err, "GetAs[%T](%s)", v, q(key)) {
		return
	}
	if equal == nil {
		equal = func(a, b T) bool { return reflect.DeepEqual(a, b) }
	}
	if !equal(got, v) {
		t.Errorf("GetAs[%T](%s) = %#v, want %#v", v, q(key), got, v)
	}
}

func testGetAs(t *testing.T, st store) {
	roundTripAs(t, st, "record", sampleRecord(), nil)
	roundTripAs(t, st, "pointer", &point{X: -1, Y: math.MaxInt}, nil)
	roundTripAs(t, st, "map", map[string]int{"a": 1, "b": math.MaxInt32}, nil)
	roundTripAs(t, st, "map/nested", map[string][]uint64{"big": {math.MaxUint64, 1<<53 + 1}}, nil)
	roundTripAs(t, st, "slice", []string{"x", "", "日本"}, nil)
	roundTripAs(t, st, "array", [3]int{1, 2, 3}, nil)
	roundTripAs(t, st, "named-int", myInt(-9), nil)
	roundTripAs(t, st, "named-bytes", myBytes{0, 1, 255}, nil)
	roundTripAs(t, st, "string", "plain", nil)
	roundTripAs(t, st, "string/invalid-utf8", "\xff\x00", nil)
	roundTripAs(t, st, "bytes", []byte{0, 1, 2}, func(a, b []byte) bool { return bytes.Equal(a, b) })
	roundTripAs(t, st, "int64", int64(math.MinInt64), nil)
	roundTripAs(t, st, "uint64", uint64(math.MaxUint64), nil)
	roundTripAs(t, st, "float32", float32(0.1), nil)
	roundTripAs(t, st, "time", time.Date(2001, 2, 3, 4, 5, 6, 7, time.FixedZone("", -7*3600)),
		func(a, b time.Time) bool { return a.Equal(b) })
	roundTripAs(t, st, "rawjson", json.RawMessage(" [1, 2] "), func(a, b json.RawMessage) bool { return bytes.Equal(a, b) })
	roundTripAs(t, st, "duration", 1500*time.Millisecond, nil)

	_, err := foxstore.GetAs[record](t.Context(), st, "missing")
	wantCode(t, err, foxstore.CodeNotFound, "GetAs of a missing key")
}

// testNoAliasing checks that a store never shares memory with its caller,
// in either direction (CONTRACT §3).
func testNoAliasing(t *testing.T, st store) {
	ctx := t.Context()

	// The caller mutates what it passed to Set, SetBatch or tx.Set.
	b := []byte("abc")
	mustSet(t, st, "bytes", b)
	b[0] = 'X'
	m := map[string]any{"list": []any{"a"}, "n": 1}
	mustSet(t, st, "map", m)
	m["n"] = 2
	m["list"].([]any)[0] = "changed"
	rec := sampleRecord()
	mustSet(t, st, "record", rec)
	rec.Tags[0] = "changed"
	rec.Attrs["x"] = 100
	rec.Next.X = 100
	rec.Blob[0] = 100
	raw := json.RawMessage(`{"a":1}`)
	mustSet(t, st, "raw", raw)
	raw[5] = '9'

	bb := []byte("batch")
	noErr(t, st.SetBatch(ctx, map[string]any{"batch": bb}), "SetBatch")
	bb[0] = 'X'

	tb := []byte("tx")
	tx := mustBegin(t, st)
	noErr(t, tx.Set("tx", tb), "tx.Set")
	tb[0] = 'X'
	if got, err := tx.Get("tx"); noErr(t, err, "tx.Get") {
		if p := sameValue([]byte("tx"), got); p != "" {
			t.Errorf("tx.Get after the caller changed the []byte it set: %s", p)
		}
	}
	noErr(t, tx.Commit(), "Commit")

	wantValue(t, st, "bytes", []byte("abc"))
	wantValue(t, st, "map", jsonForm(map[string]any{"list": []any{"a"}, "n": 1}))
	if got, err := foxstore.GetAs[record](ctx, st, "record"); noErr(t, err, "GetAs[record]") && !reflect.DeepEqual(got, sampleRecord()) {
		t.Errorf("GetAs[record] after the caller changed the record it set: got %#v, want %#v", got, sampleRecord())
	}
	wantValue(t, st, "raw", json.RawMessage(`{"a":1}`))
	wantValue(t, st, "batch", []byte("batch"))
	wantValue(t, st, "tx", []byte("tx"))

	// The caller mutates what a read returned.
	if got, err := st.Get(ctx, "bytes"); noErr(t, err, "Get") {
		if g, ok := got.([]byte); ok && len(g) > 0 {
			g[0] = 'Y'
		}
	}
	if got, err := st.Get(ctx, "map"); noErr(t, err, "Get") {
		if g, ok := got.(map[string]any); ok {
			g["n"] = "changed"
			if l, ok := g["list"].([]any); ok && len(l) > 0 {
				l[0] = "changed"
			}
		}
	}
	if got, err := st.Get(ctx, "raw"); noErr(t, err, "Get") {
		if g, ok := got.(json.RawMessage); ok && len(g) > 5 {
			g[5] = '7'
		}
	}
	if got, err := st.GetBatch(ctx, []string{"batch"}); noErr(t, err, "GetBatch") {
		if g, ok := got["batch"].([]byte); ok && len(g) > 0 {
			g[0] = 'Y'
		}
	}
	if got, err := st.Find(ctx, "tx"); noErr(t, err, "Find") {
		if g, ok := got["tx"].([]byte); ok && len(g) > 0 {
			g[0] = 'Y'
		}
	}
	if got, err := foxstore.GetAs[record](ctx, st, "record"); noErr(t, err, "GetAs") {
		got.Tags[0] = "changed"
		got.Blob[0] = 7
		got.Attrs["x"] = 7
	}
	tx = mustBegin(t, st)
	if got, err := tx.Get("bytes"); noErr(t, err, "tx.Get") {
		if g, ok := got.([]byte); ok && len(g) > 0 {
			g[0] = 'Z'
		}
	}
	if got, err := tx.Get("bytes"); noErr(t, err, "tx.Get") {
		if p := sameValue([]byte("abc"), got); p != "" {
			t.Errorf("tx.Get after the caller changed what an earlier tx.Get returned: %s", p)
		}
	}
	noErr(t, tx.Rollback(), "Rollback")

	wantValue(t, st, "bytes", []byte("abc"))
	wantValue(t, st, "map", jsonForm(map[string]any{"list": []any{"a"}, "n": 1}))
	if got, err := foxstore.GetAs[record](ctx, st, "record"); noErr(t, err, "GetAs[record]") && !reflect.DeepEqual(got, sampleRecord()) {
		t.Errorf("GetAs[record] after the caller changed what GetAs returned: got %#v, want %#v", got, sampleRecord())
	}
	wantValue(t, st, "raw", json.RawMessage(`{"a":1}`))
	wantValue(t, st, "batch", []byte("batch"))
	wantValue(t, st, "tx", []byte("tx"))
}

type cyclicNode struct {
	Name string
	Next *cyclicNode
}

// unencodableValues cannot be encoded: channels, funcs, NaN and infinities,
// cycles, invalid json.RawMessage (CONTRACT §3). Never print them: fmt
// does not stop at a cycle in a map.
func unencodableValues() []valueCase {
	node := &cyclicNode{Name: "loop"}
	node.Next = node
	loopMap := map[string]any{"name": "loop"}
	loopMap["self"] = loopMap
	loopSlice := []any{"loop", nil}
	loopSlice[1] = loopSlice
	return []valueCase{
		{name: "chan", in: make(chan int)},
		{name: "nil-chan", in: (chan int)(nil)},
		{name: "func", in: func() {}},
		{name: "nil-func", in: (func())(nil)},
		{name: "complex", in: complex(1, 2)},
		{name: "float64/NaN", in: math.NaN()},
		{name: "float64/+Inf", in: math.Inf(1)},
		{name: "float64/-Inf", in: math.Inf(-1)},
		{name: "float32/NaN", in: float32(math.NaN())},
		{name: "float32/+Inf", in: float32(math.Inf(1))},
		{name: "struct-with-chan", in: struct{ C chan int }{C: make(chan int)}},
		{name: "map-with-func", in: map[string]any{"f": func() {}}},
		{name: "map-with-NaN", in: map[string]any{"x": math.NaN()}},
		{name: "map-with-struct-keys", in: map[point]int{{1, 2}: 3}},
		{name: "cycle/pointer", in: node},
		{name: "cycle/map", in: loopMap},
		{name: "cycle/slice", in: loopSlice},
		{name: "rawjson/unclosed", in: json.RawMessage(`{"bad"`)},
		{name: "rawjson/garbage", in: json.RawMessage(`not json`)},
		{name: "rawjson/two-values", in: json.RawMessage(`1 2`)},
	}
}

func testUnencodable(t *testing.T, st store) {
	ctx := t.Context()
	for _, c := range unencodableValues() {
		mustSet(t, st, "key", "previous")
		wantCode(t, st.Set(ctx, "key", c.in, 0), foxstore.CodeInvalid, "Set(%s)", c.name)
		wantCode(t, st.Set(ctx, "fresh", c.in, time.Hour), foxstore.CodeInvalid, "Set(%s) with a TTL", c.name)
		wantCode(t, st.SetBatch(ctx, map[string]any{"key": "batch", "other": 1, "bad": c.in}),
			foxstore.CodeInvalid, "SetBatch with %s", c.name)

		tx := mustBegin(t, st)
		noErr(t, tx.Set("other", 1), "tx.Set")
		err := tx.Set("key", c.in)
		if err == nil {
			// The value may be refused at Set or at Commit, not accepted.
			err = tx.Commit()
		}
		wantCode(t, err, foxstore.CodeInvalid, "tx.Set(%s) and Commit", c.name)
		noErr(t, tx.Rollback(), "Rollback")

		wantValue(t, st, "key", "previous")
		wantMissing(t, st, "fresh")
		wantMissing(t, st, "other")
		wantMissing(t, st, "bad")
	}
}

// testMaxSize checks the default max_value_size of 16 MiB, counted on the
// encoded value: a string encodes as one kind byte plus its bytes.
func testMaxSize(t *testing.T, st store) {
	ctx := t.Context()
	const limit = 16 << 20
	fits := strings.Repeat("x", limit-1)
	tooBig := fits + "x"

	if err := st.Set(ctx, "big", fits, 0); noErr(t, err, "Set of a value of exactly 16 MiB encoded") {
		err := st.Set(ctx, "big", tooBig, 0)
		wantCode(t, err, foxstore.CodeInvalid, "Set of a value one byte over 16 MiB encoded")
		noSecret(t, err, strings.Repeat("x", 64), "Set of a value one byte over 16 MiB")
		got, err := st.Get(ctx, "big")
		if noErr(t, err, "Get of a 16 MiB value") {
			if s, ok := got.(string); !ok || s != fits {
				t.Errorf("Get of a 16 MiB string: got %T of %d bytes, want the string stored (%d bytes)", got, lenOf(got), len(fits))
			}
		}
	}
	wantCode(t, st.Set(ctx, "other", tooBig, 0), foxstore.CodeInvalid, "Set of a value one byte over 16 MiB encoded")
	wantCode(t, st.Set(ctx, "other", []byte(tooBig), 0), foxstore.CodeInvalid, "Set of a []byte one byte over 16 MiB encoded")
	wantCode(t, st.SetBatch(ctx, map[string]any{"small": 1, "other": tooBig}), foxstore.CodeInvalid, "SetBatch with a value over 16 MiB")
	wantMissing(t, st, "other")
	wantMissing(t, st, "small")
}

func lenOf(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case []byte:
		return len(x)
	}
	return -1
}

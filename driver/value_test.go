package driver

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func roundTripValues() []any {
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	return []any{
		nil, "", "héllo 日本", "\xff\xfe not utf-8", []byte{}, []byte{0, 1, 2, 255},
		true, false,
		int(-7), int8(math.MinInt8), int16(math.MaxInt16), int32(math.MinInt32), int64(math.MinInt64),
		uint(7), uint8(255), uint16(math.MaxUint16), uint32(math.MaxUint32), uint64(math.MaxUint64),
		float32(math.SmallestNonzeroFloat32), float32(3.14), math.SmallestNonzeroFloat64, math.MaxFloat64, -0.5,
		time.Date(2026, 11, 26, 23, 59, 1, 123456789, zone),
		json.RawMessage(" { \"a\" : [1, 2] }\n"),
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	for _, x := range roundTripValues() {
		v, err := EncodeValue(x)
		if err != nil {
			t.Fatalf("EncodeValue(%#v): %v", x, err)
		}
		if got := len(v.Bytes()); got != v.Size() {
			t.Errorf("%#v: Size %d, len(Bytes) %d", x, v.Size(), got)
		}
		w, err := ParseValue(v.Bytes())
		if err != nil {
			t.Fatalf("ParseValue(%#v): %v", x, err)
		}
		checkSame(t, x, w)
		w, err = ValueFromJSON(v.Type(), v.JSON())
		if err != nil {
			t.Fatalf("ValueFromJSON(%q, %s): %v", v.Type(), v.JSON(), err)
		}
		checkSame(t, x, w)
		if !json.Valid(v.JSON()) {
			t.Errorf("JSON form of %#v is not JSON: %s", x, v.JSON())
		}
	}
}

func checkSame(t *testing.T, want any, v Value) {
	t.Helper()
	got, err := v.Decode()
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if wt, ok := want.(time.Time); ok {
		gt, ok := got.(time.Time)
		if !ok || !gt.Equal(wt) {
			t.Errorf("got %#v, want %v", got, wt)
		}
		return
	}
	if reflect.TypeOf(got) != reflect.TypeOf(want) {
		t.Errorf("got type %T, want %T", got, want)
		return
	}
	if b, ok := want.([]byte); ok {
		if !bytes.Equal(got.([]byte), b) {
			t.Errorf("got %q, want %q", got, b)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func TestEncodeRejects(t *testing.T) {
	type cyc struct{ Next *cyc }
	c := &cyc{}
	c.Next = c
	for name, x := range map[string]any{
		"chan": make(chan int), "func": func() {}, "nil func": (func())(nil),
		"NaN": math.NaN(), "+Inf": math.Inf(1), "float32 NaN": float32(math.NaN()),
		"cycle": c, "bad raw json": json.RawMessage("{bad"), "complex": complex(1, 2),
		"NaN in struct": struct{ F float64 }{math.NaN()}, "year 10000": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		if _, err := EncodeValue(x); err == nil {
			t.Errorf("%s: EncodeValue succeeded", name)
		}
	}
}

func TestJSONKindDecodesLikeEncodingJSON(t *testing.T) {
	type song struct {
		Title string   `json:"title"`
		Tags  []string `json:"tags"`
	}
	in := song{Title: "t", Tags: []string{"a"}}
	v, err := EncodeValue(in)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := v.Decode()
	want := map[string]any{"title": "t", "tags": []any{"a"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode = %#v, want %#v", got, want)
	}
	var back song
	if err := v.DecodeInto(&back); err != nil || !reflect.DeepEqual(back, in) {
		t.Errorf("DecodeInto = %#v, %v", back, err)
	}
	// Two decodes never share memory.
	a, _ := v.Decode()
	a.(map[string]any)["title"] = "changed"
	b, _ := v.Decode()
	if b.(map[string]any)["title"] != "t" {
		t.Error("Decode results alias each other")
	}
}

func TestParseValueRejects(t *testing.T) {
	for _, b := range [][]byte{nil, {0}, {byte(kindEnd)}, {byte(KindInt), 'x'}, {byte(KindInt8), '3', '0', '0'},
		{byte(KindBool), 'y'}, {byte(KindTime), 'n', 'o'}, {byte(KindJSON), '{'}, {byte(KindNull), 'x'},
		{byte(KindFloat64), 'N', 'a', 'N'}} {
		if _, err := ParseValue(b); !errors.Is(err, ErrStorageCorrupted) {
			t.Errorf("ParseValue(%q) = %v, want ErrStorageCorrupted", b, err)
		}
	}
}

func FuzzParseValue(f *testing.F) {
	for _, x := range roundTripValues() {
		v, _ := EncodeValue(x)
		f.Add(v.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseValue(b)
		if err != nil {
			if CodeOf(err) != CodeCorrupted {
				t.Fatalf("error without the corrupted code: %v", err)
			}
			return
		}
		// Whatever parses survives both forms unchanged.
		w, err := ParseValue(v.Bytes())
		if err != nil || !w.Equal(v) {
			t.Fatalf("binary round trip: %v", err)
		}
		w, err = ValueFromJSON(v.Type(), v.JSON())
		if err != nil || !w.Equal(v) {
			t.Fatalf("JSON round trip of %q: %v", b, err)
		}
	})
}

func TestErrorFormatAndMatching(t *testing.T) {
	err := &Error{Op: "get", Key: "user:1", Code: CodeNotFound}
	if got, want := err.Error(), `foxstore: get "user:1": not found [5004]`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if !errors.Is(err, ErrStorageNotFound) || errors.Is(err, ErrStorageInvalid) || CodeOf(err) != 5004 {
		t.Error("sentinel matching is wrong")
	}
	cause := errors.New("disk on fire")
	werr := error(&Error{Op: "set", Key: "k", Code: CodeWriteFailed, Err: cause})
	if !errors.Is(werr, cause) || errors.Unwrap(werr) != cause {
		t.Error("cause not reachable")
	}
	long := &Error{Op: "get", Key: string(bytes.Repeat([]byte("é"), 600)), Code: CodeInvalid}
	if len(long.Error()) > 300 {
		t.Errorf("huge key makes a %d-byte message", len(long.Error()))
	}
	if CodeOf(nil) != 0 || CodeOf(errors.New("x")) != 0 {
		t.Error("CodeOf of uncoded error not 0")
	}
}

func TestEncodeValueMax(t *testing.T) {
	type rec struct {
		Name  string
		Skip  string `json:"-"`
		Maybe string `json:",omitempty"`
		Tags  []string
	}
	cases := []struct {
		x   any
		max int64
		ok  bool
	}{
		{"", 1, true}, {"abc", 4, true}, {"abcd", 4, false}, {[]byte("abcd"), 4, false},
		{json.RawMessage(`"ab"`), 5, true}, {json.RawMessage(`"abc"`), 5, false},
		{rec{Name: "x"}, 100, true}, {rec{Name: strings.Repeat("x", 200)}, 100, false},
		{rec{Skip: strings.Repeat("x", 200)}, 100, true}, {rec{Maybe: strings.Repeat("x", 50)}, 100, true},
		{[]string{strings.Repeat("\x00", 20)}, 100, false}, // 6 bytes per NUL once escaped
		{map[string]any{"k": strings.Repeat("x", 200)}, 100, false},
		{[]time.Time{time.Now()}, 100, true},
	}
	for i, c := range cases {
		v, err := EncodeValueMax(c.x, c.max)
		if (err == nil) != c.ok {
			t.Errorf("case %d: EncodeValueMax(%T, %d) = %v, want ok=%v", i, c.x, c.max, err, c.ok)
		}
		if err != nil {
			continue
		}
		// What it accepts, it encodes as EncodeValue does.
		if want, err := EncodeValue(c.x); err != nil || !bytes.Equal(v.Bytes(), want.Bytes()) || v.Kind() != want.Kind() {
			t.Errorf("case %d: EncodeValueMax(%T) = %v %q, EncodeValue %v %q (%v)", i, c.x, v.Kind(), v.Bytes(), want.Kind(), want.Bytes(), err)
		}
	}
	// The bound stops refusing early: 16 MiB of NULs is refused without
	// encoding them (96 MiB).
	huge := []string{string(make([]byte, 16<<20))}
	var ms1, ms2 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	if _, err := EncodeValueMax(huge, 16<<20); err == nil {
		t.Fatal("16 MiB []string accepted")
	}
	runtime.ReadMemStats(&ms2)
	if grew := ms2.TotalAlloc - ms1.TotalAlloc; grew > 1<<20 {
		t.Errorf("refusing it allocated %d bytes", grew)
	}
}

func TestTimeWithSecondsOffsetKeepsInstant(t *testing.T) {
	lmt := time.Date(1900, 1, 1, 12, 0, 0, 0, time.FixedZone("LMT", 19*60+32))
	v, err := EncodeValue(lmt)
	if err != nil {
		t.Fatal(err)
	}
	w, err := ParseValue(v.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := w.Decode()
	if !got.(time.Time).Equal(lmt) {
		t.Errorf("got %v, want %v", got, lmt)
	}
}

type boundInner struct {
	A string
	B []int
	C map[string]float64
}

type boundOuter struct {
	Name   string
	Inner  boundInner
	Ptr    *boundInner
	Nil    *boundInner
	Any    any
	When   time.Time
	Raw    json.RawMessage
	Bytes  []byte
	Skip   string `json:"-"`
	Maybe  string `json:",omitempty"`
	hidden string
	boundInner
}

// jsonLowerBound must never exceed what encoding/json writes, whatever the
// value, and its per-type cache must give the same answer the second time.
func TestJSONLowerBoundIsABound(t *testing.T) {
	in := boundInner{A: "a\x00<b>", B: []int{1, 22, 333}, C: map[string]float64{"x": 1.5, "yy": 2}}
	values := []any{
		in,
		&in,
		boundOuter{Name: "n", Inner: in, Ptr: &in, Any: []any{"s", 1, true, nil}, When: time.Now(),
			Raw: json.RawMessage(`{"k":[1,2]}`), Bytes: []byte("hello"), Skip: strings.Repeat("s", 100),
			Maybe: "m", hidden: strings.Repeat("h", 100), boundInner: in},
		map[string]any{"a": in, "b": []string{"x", "y"}},
		[]boundOuter{{}, {Name: "z"}},
		[3]string{"a", "bb", "ccc"},
	}
	for i, x := range values {
		out, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		for round := 0; round < 2; round++ {
			if got := jsonLowerBound(reflect.ValueOf(x), 1<<40, 0); got > int64(len(out)) {
				t.Errorf("value %d (%T), round %d: bound %d > encoded %d bytes: %s", i, x, round, got, len(out), out)
			}
		}
	}
}

// BenchmarkEncodeValueMaxStruct is the check and encoding of a small struct,
// as a Set of one does.
func BenchmarkEncodeValueMaxStruct(b *testing.B) {
	type track struct {
		ID     int64    `json:"id"`
		Title  string   `json:"title"`
		Artist string   `json:"artist"`
		Tags   []string `json:"tags"`
	}
	x := track{ID: 42, Title: "Yellow Submarine", Artist: "The Beatles", Tags: []string{"pop", "1966"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeValueMax(x, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}

// Plain is Decode's answer, without its cost, wherever it answers at all:
// on every value of the round-trip table and on the zero Value. It answers
// for every kind but null, bytes, rawjson and json.
func TestPlainAgreesWithDecode(t *testing.T) {
	for _, x := range append(roundTripValues(), struct{ A int }{1}, json.RawMessage(`[1]`)) {
		v, err := EncodeValue(x)
		if err != nil {
			t.Fatalf("EncodeValue(%#v): %v", x, err)
		}
		got, ok := v.Plain()
		if held := v.kind != KindNull && v.kind != KindBytes && v.kind != KindRawJSON && v.kind != KindJSON; ok != held {
			t.Errorf("%#v (kind %v): Plain answers %v; want %v", x, v.kind, ok, held)
		}
		if !ok {
			continue
		}
		want, err := v.Decode()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%#v: Plain = %#v, Decode = %#v, %v", x, got, want, err)
		}
	}
	if x, ok := (Value{}).Plain(); ok || x != nil {
		t.Errorf("zero Value: Plain = %#v, %v; want nil, false", x, ok)
	}
	for _, x := range []any{"s", true, int64(1), 1.5, time.Unix(1, 0)} {
		if v, _ := EncodeValue(x); func() bool { _, ok := v.Plain(); return !ok }() {
			t.Errorf("Plain refuses %T, which a Value holds as it is", x)
		}
	}
}

// TestJoinValue: halves from Parts join back into an equal Value for every
// kind, and halves that do not belong together are refused, so that no
// Value can be made whose methods would fail on them.
func TestJoinValue(t *testing.T) {
	for _, x := range append(roundTripValues(), struct{ A int }{1}) {
		v, err := EncodeValue(x)
		if err != nil {
			t.Fatal(err)
		}
		w, ok := JoinValue(v.Parts())
		if !ok || !w.Equal(v) {
			t.Errorf("%#v: JoinValue(Parts()) = %s, %v", x, w.JSON(), ok)
		}
	}
	bad := []struct {
		k Kind
		x any
	}{
		{0, nil}, {0, "s"}, {kindEnd, "s"}, {255, nil},
		{KindNull, "s"}, {KindString, nil}, {KindString, 5}, {KindBytes, []byte("b")},
		{KindInt, int64(1)}, {KindInt64, 1}, {KindFloat32, 1.5}, {KindTime, "2026-01-01"},
		{KindJSON, map[string]any{}}, {KindBool, "true"}, {KindString, notAKind{}},
	}
	for _, b := range bad {
		if v, ok := JoinValue(b.k, b.x); ok || v.Kind() != 0 {
			t.Errorf("JoinValue(%v, %#v) = %v, %v; want the zero Value, false", b.k, b.x, v.Kind(), ok)
		}
	}
}

package driver_test

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/foxstore/foxstore/driver"
)

// Fuzz targets added by the torture work (issue 7 §4): FuzzParseValue covers
// the binary form; these cover the JSON form that the file backend and dumps
// read, and the encoder that every write goes through.

// FuzzValueFromJSON feeds arbitrary type names and JSON texts to the decoder
// of the JSON form. It must never panic: it refuses with ErrStorageCorrupted,
// or returns a value that decodes and survives both forms unchanged.
func FuzzValueFromJSON(f *testing.F) {
	for _, c := range []struct{ typ, data string }{
		{"null", "null"}, {"string", `"héllo"`}, {"string64", `"/w=="`}, {"bytes", `"AAEC/w=="`},
		{"bool", "true"}, {"int", "-7"}, {"int8", "-128"}, {"int16", "32767"}, {"int32", "-2147483648"},
		{"int64", "9223372036854775807"}, {"uint", "7"}, {"uint8", "255"}, {"uint16", "65535"},
		{"uint32", "4294967295"}, {"uint64", "18446744073709551615"}, {"float32", "3.4028235e+38"},
		{"float64", "-0.5"}, {"float64", "5e-324"}, {"time", `"2026-11-26T23:59:01.123456789+05:30"`},
		{"rawjson", `" {\"a\": [1, 2]}\n"`}, {"json", `{"a":[1,2,{"b":null}]}`}, {"json", " [1, 2] "},
		{"int", "1e3"}, {"uint8", "256"}, {"time", `"0000-01-01T00:00:00Z"`}, {"nope", "1"},
	} {
		f.Add(c.typ, []byte(c.data))
	}
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		v, err := driver.ValueFromJSON(typ, data)
		if err != nil {
			if driver.CodeOf(err) != driver.CodeCorrupted {
				t.Fatalf("ValueFromJSON(%q, %q): %v, want ErrStorageCorrupted", typ, data, err)
			}
			return
		}
		if _, err := v.Decode(); err != nil {
			t.Fatalf("ValueFromJSON(%q, %q) gave a value that does not decode: %v", typ, data, err)
		}
		if !json.Valid(v.JSON()) {
			t.Fatalf("ValueFromJSON(%q, %q): its JSON form %q is not JSON", typ, data, v.JSON())
		}
		w, err := driver.ValueFromJSON(v.Type(), v.JSON())
		if err != nil || !w.Equal(v) {
			t.Fatalf("JSON form of ValueFromJSON(%q, %q) = %s %q does not read back (%v)", typ, data, v.Type(), v.JSON(), err)
		}
		w, err = driver.ParseValue(v.Bytes())
		if err != nil || !w.Equal(v) {
			t.Fatalf("binary form of ValueFromJSON(%q, %q) does not read back (%v)", typ, data, err)
		}
		if v.Size() != len(v.Bytes()) {
			t.Fatalf("ValueFromJSON(%q, %q): Size %d, binary form %d bytes", typ, data, v.Size(), len(v.Bytes()))
		}
	})
}

// FuzzEncodeRoundTrip checks CONTRACT §3 for every native type: whatever
// EncodeValue accepts comes back from Decode with its Go type and value, and
// through the binary and JSON forms unchanged.
func FuzzEncodeRoundTrip(f *testing.F) {
	f.Add("héllo", []byte{0, 1, 255}, int64(-1), uint64(math.MaxUint64), 3.25, int64(1764201541), int64(123456789), int32(5*3600+1800))
	f.Add("\xff\xfe", []byte(`{"a":1}`), int64(math.MinInt64), uint64(0), math.SmallestNonzeroFloat64, int64(-62135596800), int64(0), int32(-12*3600))
	f.Add("", []byte(nil), int64(0), uint64(1), math.Copysign(0, -1), int64(253402300799), int64(999999999), int32(0))
	f.Fuzz(func(t *testing.T, s string, b []byte, i int64, u uint64, fl float64, sec, nsec int64, off int32) {
		// Offsets keep whole minutes: RFC 3339 cannot write seconds of an
		// offset (TestBug_TimeOffsetSecondsLost in package torture).
		zone := time.FixedZone("fuzz", int(off%(18*3600))/60*60)
		values := []any{
			nil, s, b, i%2 == 0,
			int(i), int8(i), int16(i), int32(i), i,
			uint(u), uint8(u), uint16(u), uint32(u), u,
			float32(fl), fl,
			time.Unix(sec, nsec).In(zone), time.Unix(sec, nsec).UTC(),
			json.RawMessage(b),
		}
		for _, x := range values {
			v, err := driver.EncodeValue(x)
			if err != nil {
				if !refusable(x) {
					t.Fatalf("EncodeValue(%#v): %v", x, err)
				}
				continue
			}
			for form, w := range map[string]func() (driver.Value, error){
				"value":  func() (driver.Value, error) { return v, nil },
				"binary": func() (driver.Value, error) { return driver.ParseValue(v.Bytes()) },
				"JSON":   func() (driver.Value, error) { return driver.ValueFromJSON(v.Type(), v.JSON()) },
			} {
				wv, err := w()
				if err != nil {
					t.Fatalf("%#v: %s form does not read back: %v", x, form, err)
				}
				got, err := wv.Decode()
				if err != nil {
					t.Fatalf("%#v: %s form does not decode: %v", x, form, err)
				}
				if !sameValue(x, got) {
					t.Fatalf("%#v: through the %s form it comes back as %#v", x, form, got)
				}
			}
		}
	})
}

// refusable reports whether EncodeValue may refuse x: floats that are not
// finite, times outside years 0-9999, json.RawMessage that is not JSON.
func refusable(x any) bool {
	switch t := x.(type) {
	case float32:
		return math.IsNaN(float64(t)) || math.IsInf(float64(t), 0)
	case float64:
		return math.IsNaN(t) || math.IsInf(t, 0)
	case time.Time:
		return t.Year() < 0 || t.Year() > 9999
	case json.RawMessage:
		return !json.Valid(t)
	}
	return false
}

// sameValue compares what was stored with what came back: the same Go type
// and value; floats bit for bit; times the same instant and offset.
func sameValue(want, got any) bool {
	if reflect.TypeOf(want) != reflect.TypeOf(got) {
		return false
	}
	switch w := want.(type) {
	case float32:
		return math.Float32bits(w) == math.Float32bits(got.(float32))
	case float64:
		return math.Float64bits(w) == math.Float64bits(got.(float64))
	case time.Time:
		g := got.(time.Time)
		_, wo := w.Zone()
		_, gof := g.Zone()
		return w.Equal(g) && wo == gof
	case []byte:
		return string(w) == string(got.([]byte))
	case json.RawMessage:
		if w == nil {
			w = json.RawMessage("null") // how EncodeValue stores a nil RawMessage
		}
		return string(w) == string(got.(json.RawMessage))
	}
	return reflect.DeepEqual(want, got)
}

package file

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore/driver"
)

func TestKeyRoundTrip(t *testing.T) {
	keys := []string{
		"a", "user:1", `quote"back\slash`, "tab\tnew\nline", "<&>", "ünïcødé 🎵",
		"\xff", "\xffns\x00key", "\xffa\x00\xffb\x00k:1", "\xff\xfe\xfd", "a\xffb", "\u00ff", "ÿ\xff",
		"\x00", strings.Repeat("k", driver.MaxStoredKeyLen),
	}
	for _, k := range keys {
		b := appendKey(nil, k)
		if !json.Valid(b) {
			t.Errorf("key %q: %s is not JSON", k, b)
		}
		got, err := parseKey(b)
		if err != nil || got != k {
			t.Errorf("key %q: encoded %s, decoded %q, %v", k, b, got, err)
		}
	}
	// The string "ÿ" (U+00FF) and the byte 0xFF must stay apart.
	if a, b := appendKey(nil, "\u00ff"), appendKey(nil, "\xff"); string(a) == string(b) {
		t.Errorf("U+00FF and byte 0xFF both encode as %s", a)
	}
}

func TestEntryRoundTrip(t *testing.T) {
	type point struct{ X, Y int }
	values := []any{
		nil, "", "text with \"quotes\" and\nnewlines", "\xff\xfe not utf-8", []byte{}, []byte{0, 1, 255},
		true, false, int(-1), int8(-128), int16(32767), int32(-5), int64(math.MinInt64),
		uint(7), uint8(255), uint16(65535), uint32(1 << 31), uint64(math.MaxUint64),
		float32(1.5), float64(-0.1), math.SmallestNonzeroFloat64,
		time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("x", 3600)),
		json.RawMessage(`{"a" : [1, 2]}`), json.RawMessage("{\"\xbc\":0}"), // not UTF-8: type rawjson64
		point{1, 2}, map[string]any{"nested": []any{"x", 1.0}},
	}
	for _, x := range values {
		v, err := driver.EncodeValue(x)
		if err != nil {
			t.Fatal(err)
		}
		for _, exp := range []int64{0, 1767225600000} {
			w := driver.Write{Key: "\xffns\x00k", Entry: driver.Entry{Value: v, Expires: exp}}
			b, err := appendEntry(nil, w)
			if err != nil {
				t.Fatalf("%T: %v", x, err)
			}
			if !json.Valid(b) || strings.ContainsAny(string(b), "\r\n") {
				t.Fatalf("%T: %s is not one line of JSON", x, b)
			}
			got, err := parseEntry(b)
			if err != nil {
				t.Fatalf("%T: parse %s: %v", x, b, err)
			}
			if got.Key != w.Key || got.Delete || got.Entry.Expires != exp || !got.Entry.Value.Equal(v) {
				t.Errorf("%T: %s came back as %+v", x, b, got)
			}
		}
	}
	b, _ := appendEntry(nil, driver.Write{Key: "gone", Delete: true})
	if got, err := parseEntry(b); err != nil || !got.Delete || got.Key != "gone" {
		t.Errorf("deletion %s came back as %+v, %v", b, got, err)
	}
}

func TestRecordChecksum(t *testing.T) {
	ws := []driver.Write{{Key: "a", Entry: driver.Entry{Value: mustValue(t, "x")}}, {Key: "b", Delete: true}}
	body, err := appendWrites(nil, ws)
	if err != nil {
		t.Fatal(err)
	}
	line := appendRecord(nil, 7, body)
	if !json.Valid(line) {
		t.Fatalf("%s is not JSON", line)
	}
	rec, err := parseRecord(line[:len(line)-1])
	if err != nil || rec.seq != 7 || len(rec.entries) != 2 {
		t.Fatalf("parseRecord: %+v, %v", rec, err)
	}
	for i := range len(line) - 1 {
		for bit := range 8 {
			bad := []byte(string(line[:len(line)-1]))
			bad[i] ^= 1 << bit
			if _, err := parseRecord(bad); err == nil {
				t.Fatalf("flipping bit %d of byte %d went unnoticed: %s", bit, i, bad)
			}
		}
	}
}

func TestSkipString(t *testing.T) {
	for _, tc := range []struct {
		in  string
		end int
	}{
		{`"abc"x`, 5}, {`"a\"b"`, 6}, {`"a\\"b`, 5}, {`"a\\\"b"`, 8}, {`""`, 2},
	} {
		end, err := skipString([]byte(tc.in), 0)
		if err != nil || end != tc.end {
			t.Errorf("skipString(%s) = %d, %v; want %d", tc.in, end, err, tc.end)
		}
	}
	for _, in := range []string{`"abc`, `"a\"`, `x`} {
		if _, err := skipString([]byte(in), 0); err == nil {
			t.Errorf("skipString(%s) accepted an unterminated string", in)
		}
	}
}

func mustValue(t *testing.T, x any) driver.Value {
	t.Helper()
	v, err := driver.EncodeValue(x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

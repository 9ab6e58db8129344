package dump

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/driver"
)

var testNow = time.Date(2026, 5, 1, 10, 0, 0, 123_000_000, time.UTC)

func fixedNow() time.Time { return testNow }

func mustValue(t testing.TB, x any) foxstore.Value {
	t.Helper()
	v, err := driver.EncodeValue(x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sampleRecords holds one record of every value type, some with deadlines.
func sampleRecords(t testing.TB) []foxstore.Record {
	when := time.Date(2024, 2, 29, 23, 59, 59, 999_999_999, time.FixedZone("x", 5*3600+1800))
	return []foxstore.Record{
		{Key: "str", Value: mustValue(t, "héllo \"<&>\"\n")},
		{Key: "bad-utf8", Value: mustValue(t, "a\xffb")},
		{Key: "bytes", Value: mustValue(t, []byte{0, 1, 2, 0xff})},
		{Key: "bool", Value: mustValue(t, true)},
		{Key: "int", Value: mustValue(t, -42)},
		{Key: "int8", Value: mustValue(t, int8(-128))},
		{Key: "int16", Value: mustValue(t, int16(300))},
		{Key: "int32", Value: mustValue(t, int32(-70000))},
		{Key: "int64", Value: mustValue(t, int64(-1<<63))},
		{Key: "uint", Value: mustValue(t, uint(7))},
		{Key: "uint8", Value: mustValue(t, uint8(255))},
		{Key: "uint16", Value: mustValue(t, uint16(65535))},
		{Key: "uint32", Value: mustValue(t, uint32(1<<32-1))},
		{Key: "uint64", Value: mustValue(t, uint64(1<<64-1))},
		{Key: "float32", Value: mustValue(t, float32(0.1))},
		{Key: "float64", Value: mustValue(t, 1e-300)},
		{Key: "time", Value: mustValue(t, when)},
		{Key: "raw", Value: mustValue(t, json.RawMessage(`{ "spaced" : [1, 2] }`))},
		{Key: "json", Value: mustValue(t, map[string]any{"a": []int{1, 2}, "html": "<b>"})},
		{Key: "null", Value: mustValue(t, nil)},
		{Key: "ttl", Value: mustValue(t, "soon"), Expires: testNow.Add(90 * time.Second)},
		{Key: "ключ:日本", Value: mustValue(t, 1.5), Expires: testNow.Add(time.Hour)},
	}
}

func writeDump(t testing.TB, recs []foxstore.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readDump(t testing.TB, data []byte, opt ReadOptions) ([]foxstore.Record, *Reader, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), opt)
	if err != nil {
		return nil, nil, err
	}
	var out []foxstore.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, r, nil
		}
		if err != nil {
			return out, r, err
		}
		out = append(out, rec)
	}
}

func sameRecord(a, b foxstore.Record) bool {
	return a.Key == b.Key && a.Value.Equal(b.Value) && a.Value.Type() == b.Value.Type() &&
		a.Expires.UnixMilli() == b.Expires.UnixMilli() && a.Expires.IsZero() == b.Expires.IsZero()
}

func TestRoundTrip(t *testing.T) {
	recs := sampleRecords(t)
	data := writeDump(t, recs)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != len(recs)+2 {
		t.Fatalf("%d lines for %d records, want a header, one line each and an end line:\n%s", len(lines), len(recs), data)
	}
	if want := `{"end":true,"count":22}`; lines[len(lines)-1] != want {
		t.Errorf("end line %s, want %s", lines[len(lines)-1], want)
	}
	got, r, err := readDump(t, data, ReadOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Complete() {
		t.Error("Complete() = false after reading the end line")
	}
	if h := r.Header(); h.Version != Version || !h.Created.Equal(testNow) {
		t.Errorf("header %+v", h)
	}
	if len(got) != len(recs) {
		t.Fatalf("read %d records, wrote %d", len(got), len(recs))
	}
	for i := range recs {
		if !sameRecord(got[i], recs[i]) {
			t.Errorf("record %d: read %q %s %s exp %v, wrote %q %s %s exp %v", i,
				got[i].Key, got[i].Value.Type(), got[i].Value.JSON(), got[i].Expires,
				recs[i].Key, recs[i].Value.Type(), recs[i].Value.JSON(), recs[i].Expires)
		}
	}
}

func TestRecordLine(t *testing.T) {
	r := foxstore.Record{Key: "s", Value: mustValue(t, "v"), Expires: testNow.Add(1500 * time.Millisecond)}
	b, err := AppendRecord(nil, r, testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"key":"s","type":"string","value":"v","expires_at":"2026-05-01T10:00:01.623Z","ttl_ms":1500}`
	if string(b) != want {
		t.Errorf("line\n%s\nwant\n%s", b, want)
	}
}

func TestRelativeTTL(t *testing.T) {
	data := []byte(`{"format":"foxstore-dump","version":1}
{"key":"a","type":"int","value":1,"expires_at":"2020-01-01T00:00:00Z","ttl_ms":5000}
{"key":"b","type":"int","value":2,"ttl_ms":2500}
{"key":"c","type":"int","value":3,"expires_at":"2030-01-01T00:00:00Z"}
`)
	abs, r, err := readDump(t, data, ReadOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if r.Complete() {
		t.Error("Complete() = true for a dump without an end line")
	}
	rel, _, err := readDump(t, data, ReadOptions{Now: fixedNow, Relative: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ abs, rel time.Time }{
		{time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), testNow.Add(5 * time.Second)},
		{testNow.Add(2500 * time.Millisecond), testNow.Add(2500 * time.Millisecond)},
		{time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for i, w := range want {
		if !abs[i].Expires.Equal(w.abs) {
			t.Errorf("%s absolute: expires %v, want %v", abs[i].Key, abs[i].Expires, w.abs)
		}
		if !rel[i].Expires.Equal(w.rel) {
			t.Errorf("%s relative: expires %v, want %v", rel[i].Key, rel[i].Expires, w.rel)
		}
	}
}

func TestReaderErrors(t *testing.T) {
	const hdr = `{"format":"foxstore-dump","version":1}` + "\n"
	tests := []struct {
		name, data string
		line       int
		want       string
	}{
		{"empty", "", 1, "empty input"},
		{"no header", `{"key":"a","type":"int","value":1}`, 1, "header line"},
		{"other format", `{"format":"other","version":1}`, 1, "is not"},
		{"newer version", `{"format":"foxstore-dump","version":2}`, 1, "newer"},
		{"not json", "hello\n", 1, "invalid character"},
		{"two values", hdr + `{"key":"a","type":"int","value":1} {}`, 2, "more than one"},
		{"unknown field", hdr + `{"key":"a","type":"int","value":1,"ttl":5}`, 2, "unknown field"},
		{"no key", hdr + `{"type":"int","value":1}`, 2, "no \"key\""},
		{"no type", hdr + `{"key":"a","value":1}`, 2, "no \"type\""},
		{"no value", hdr + `{"key":"a","type":"int"}`, 2, "no \"value\""},
		{"unknown type", hdr + `{"key":"a","type":"complex","value":1}`, 2, "unknown value type"},
		{"bad int", hdr + `{"key":"a","type":"int8","value":300}`, 2, "int8"},
		{"bad time", hdr + `{"key":"a","type":"time","value":"yesterday"}`, 2, "time"},
		{"bad expires", hdr + `{"key":"a","type":"int","value":1,"expires_at":"soon"}`, 2, "expires_at"},
		{"zero ttl", hdr + `{"key":"a","type":"int","value":1,"ttl_ms":0}`, 2, "ttl_ms"},
		{"huge ttl", hdr + `{"key":"a","type":"int","value":1,"ttl_ms":9000000000000000000}`, 2, "out of range"},
		{"count mismatch", hdr + `{"key":"a","type":"int","value":1}` + "\n" + `{"end":true,"count":2}`, 3, "damaged"},
		{"after end", hdr + `{"end":true,"count":0}` + "\n" + `{"key":"a","type":"int","value":1}`, 3, "after the end"},
		{"header again", hdr + hdr, 2, "header fields"},
		{"invalid utf8", hdr + "{\"key\":\"\xff\",\"type\":\"int\",\"value\":1}", 2, "UTF-8"},
		{"blank lines then bad", hdr + "\n\n  \n" + `{"key":1}`, 5, "cannot unmarshal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readDump(t, []byte(tc.data), ReadOptions{Now: fixedNow})
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v, want a *SyntaxError", err)
			}
			if se.Line != tc.line || !strings.Contains(se.Error(), tc.want) {
				t.Errorf("error %q (line %d), want line %d and %q", se, se.Line, tc.line, tc.want)
			}
		})
	}
}

func TestLongLine(t *testing.T) {
	big := strings.Repeat("x", 200<<10) // longer than the reader's buffer
	data := writeDump(t, []foxstore.Record{{Key: "big", Value: mustValue(t, big)}})
	got, _, err := readDump(t, data, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if x, _ := got[0].Value.Decode(); x != big {
		t.Error("a long value did not survive the round trip")
	}
}

func TestSniff(t *testing.T) {
	for in, want := range map[string]bool{
		`{"format"`:            true,
		"\ufeff \n{":           true,
		"\x00\x00\x00\x00\xed": false,
		"":                     false,
	} {
		if got := Sniff([]byte(in)); got != want {
			t.Errorf("Sniff(%q) = %v, want %v", in, got, want)
		}
	}
}

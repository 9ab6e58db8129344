package driver_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/foxstore/foxstore/driver"
)

// The fast paths of ValueFromJSON for "string", "bytes" and "string64"
// must give exactly what encoding/json gives, which the slow path uses.

// stringInputs are JSON texts full of what a string decoder can get wrong.
var stringInputs = []string{
	`""`, `"plain"`, `"a\"b\\c\/d"`, `"\b\f\n\r\t"`, `"\u0000"`, `"a\u0000b"`, `"\u001f\u00e9\u4e2d"`,
	`"\u00ff"`, `"\uFFFF"`, `"\uffFe"`, `"é中🎵"`, `"{\"id\":1,\"name\":\"x\"}"`, `"<>&"`, `"\u2028\u2029"`,
	// Surrogates: a pair, lone ones, a pair the wrong way round, a pair split.
	`"\uD83C\uDFB5"`, `"\ud83c"`, `"\udfb5x"`, `"\udfb5\ud83c"`, `"\ud83cx\udfb5"`, `"\ud83c\u0041"`,
	`"\ud83c\\"`, `"x\ud800"`, `"\uDBFF\uDFFF"`,
	// Invalid UTF-8, control characters, bad escapes.
	"\"\xff\"", "\"a\xc3\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"a\x01\"", "\"tab\there\"", "\"nl\n\"",
	"\"\x7f\"", `"\u12"`, `"\u12g4"`, `"\x"`, `"\U0041"`, `"\'"`, `"\`, `"a\"`, `"a`, `a"`, `"a"b"`,
	// Not strings at all, or with space around (ValueFromJSON trims it).
	`null`, `1`, `true`, `[]`, `{}`, ` "padded" `, "\t\"tab\"\n", `"a" "b"`, `""""`, ``, `"`,
}

// base64Inputs are JSON texts of base64 in every padding and spelling.
var base64Inputs = []string{
	`""`, `"AA=="`, `"AAE="`, `"AAEC"`, `"AAEC/w=="`, `"AAEC/w"`, `"AA="`, `"AA"`, `"A"`, `"A==="`, `"===="`,
	`"AAA=AAA="`, `"AB=="`, `"AAB="`, `"AA==AA=="`, `"-_8="`, `"+/8="`, `"AA ="`, `"A A="`,
	`"AA\u003d\u003d"`, `"AA\/A"`, `"AA\nAA=="`, `"AA\r\nAA=="`, "\"AA\nAA==\"", "\"AA\rAA==\"",
	`"AAEC/w==="`, `"\u0041\u0041=="`, "\"AA\xff=\"", `null`, `"AA=="x`, `["AA=="]`, ` "AA==" `,
	// Raw line breaks, which JSON forbids and a base64 decoder would skip.
	"\"AA\nAA\"", "\"AAE\n=\"", "\"AA\r\n==\"", "\"\nAAAA\"",
}

// referenceString is what ValueFromJSON gave before the fast path: the
// string encoding/json decodes, once the space around it is trimmed.
func referenceString(data []byte) (driver.Value, bool) {
	data = bytes.TrimSpace(data)
	var s string
	if json.Unmarshal(data, &s) != nil {
		return driver.Value{}, false
	}
	v, _ := driver.EncodeValue(s)
	return v, true
}

func referenceBytes(data []byte) (driver.Value, bool) {
	data = bytes.TrimSpace(data)
	var b []byte
	if json.Unmarshal(data, &b) != nil {
		return driver.Value{}, false
	}
	v, _ := driver.EncodeValue(b)
	return v, true
}

func referenceString64(data []byte) (driver.Value, bool) {
	data = bytes.TrimSpace(data)
	var s string
	if json.Unmarshal(data, &s) != nil {
		return driver.Value{}, false
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return driver.Value{}, false
	}
	v, _ := driver.EncodeValue(string(raw))
	return v, true
}

// checkLikeEncodingJSON compares ValueFromJSON(typ, data) with the
// reference decoding of data.
func checkLikeEncodingJSON(t *testing.T, typ string, data []byte) {
	t.Helper()
	var want driver.Value
	var ok bool
	switch typ {
	case "string":
		want, ok = referenceString(data)
	case "bytes":
		want, ok = referenceBytes(data)
	case "string64":
		want, ok = referenceString64(data)
	}
	got, err := driver.ValueFromJSON(typ, data)
	switch {
	case !ok && err == nil:
		t.Errorf("ValueFromJSON(%s, %q) = %s %q; encoding/json refuses it", typ, data, got.Type(), got.JSON())
	case ok && err != nil:
		t.Errorf("ValueFromJSON(%s, %q): %v; encoding/json gives %q", typ, data, err, want.JSON())
	case !ok && driver.CodeOf(err) != driver.CodeCorrupted:
		t.Errorf("ValueFromJSON(%s, %q): %v, want ErrStorageCorrupted", typ, data, err)
	case ok && (!got.Equal(want) || got.Kind() != want.Kind()):
		t.Errorf("ValueFromJSON(%s, %q) = %q; encoding/json gives %q", typ, data, got.Bytes(), want.Bytes())
	}
}

func TestValueFromJSONMatchesEncodingJSON(t *testing.T) {
	for _, in := range stringInputs {
		checkLikeEncodingJSON(t, "string", []byte(in))
	}
	for _, in := range base64Inputs {
		checkLikeEncodingJSON(t, "bytes", []byte(in))
		checkLikeEncodingJSON(t, "string64", []byte(in))
	}
	// Every byte value, every padding.
	for n := 0; n <= 5; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(0xff - 37*i)
		}
		enc := base64.StdEncoding.EncodeToString(b)
		for _, in := range []string{enc, strings.TrimRight(enc, "="), enc + "=", base64.RawURLEncoding.EncodeToString(b)} {
			checkLikeEncodingJSON(t, "bytes", []byte(`"`+in+`"`))
		}
	}
	for c := 0; c < 256; c++ {
		checkLikeEncodingJSON(t, "string", []byte{'"', byte(c), '"'})
		checkLikeEncodingJSON(t, "string", []byte{'"', '\\', byte(c), '"'})
		checkLikeEncodingJSON(t, "bytes", []byte{'"', 'A', 'A', byte(c), '=', '=', '"'})
	}
}

func TestParseJSONString(t *testing.T) {
	for _, in := range stringInputs {
		var want string
		werr := json.Unmarshal([]byte(in), &want)
		isString := len(in) >= 2 && in[0] == '"' && in[len(in)-1] == '"'
		got, err := driver.ParseJSONString([]byte(in))
		switch {
		case !isString && err == nil:
			t.Errorf("ParseJSONString(%q) = %q, want an error: not exactly a string", in, got)
		case isString && ((werr == nil) != (err == nil) || got != want):
			t.Errorf("ParseJSONString(%q) = %q, %v; encoding/json gives %q, %v", in, got, err, want, werr)
		}
	}
	// What encoding/json writes reads back, whatever it holds.
	for _, s := range []string{"tab\there", "quote\"s", "ctrl\x00\x1f", "ünï", "\u2028", "\xff\xfe", "<&>", ""} {
		js, _ := json.Marshal(s)
		var want string
		json.Unmarshal(js, &want)
		if got, err := driver.ParseJSONString(js); err != nil || got != want {
			t.Errorf("%q came back as %q, %v", s, got, err)
		}
	}
}

// FuzzValueFromJSONMatchesEncodingJSON compares the fast paths with
// encoding/json on arbitrary texts.
func FuzzValueFromJSONMatchesEncodingJSON(f *testing.F) {
	for _, in := range stringInputs {
		f.Add(true, []byte(in))
	}
	for _, in := range base64Inputs {
		f.Add(false, []byte(in))
	}
	f.Fuzz(func(t *testing.T, str bool, data []byte) {
		if str {
			checkLikeEncodingJSON(t, "string", data)
			if len(data) >= 2 && data[0] == '"' && data[len(data)-1] == '"' {
				var want string
				werr := json.Unmarshal(data, &want)
				got, err := driver.ParseJSONString(data)
				if (werr == nil) != (err == nil) || got != want {
					t.Errorf("ParseJSONString(%q) = %q, %v; encoding/json gives %q, %v", data, got, err, want, werr)
				}
			}
			return
		}
		checkLikeEncodingJSON(t, "bytes", data)
		checkLikeEncodingJSON(t, "string64", data)
	})
}

// A json value read from the binary form drops the space around it, as
// its JSON form must: what a file store writes after "v": has to parse.
func TestJSONKindDropsSurroundingSpace(t *testing.T) {
	for _, payload := range []string{"0 ", " [1, 2]\n", "\t{\"a\":1}\r\n"} {
		v, err := driver.ParseValue(append([]byte{byte(driver.KindJSON)}, payload...))
		if err != nil {
			t.Fatalf("ParseValue(%q): %v", payload, err)
		}
		want := strings.TrimSpace(payload)
		if string(v.JSON()) != want {
			t.Errorf("ParseValue(%q).JSON() = %q, want %q", payload, v.JSON(), want)
		}
		if w, err := driver.ValueFromJSON(v.Type(), v.JSON()); err != nil || !w.Equal(v) {
			t.Errorf("JSON form of %q does not read back: %v", payload, err)
		}
	}
}

// A json.RawMessage that is not valid UTF-8 (encoding/json accepts any
// bytes in its strings) keeps its bytes through the JSON form, in base64
// as type "rawjson64", as a string does as "string64".
func TestRawJSONNotUTF8(t *testing.T) {
	for _, raw := range []string{"{\"\xbc\":0}", "\"\xff\xfe\"", `{"ok":"é"}`} {
		v, err := driver.EncodeValue(json.RawMessage(raw))
		if err != nil {
			t.Fatal(err)
		}
		wantType := "rawjson"
		if !utf8.ValidString(raw) {
			wantType = "rawjson64"
		}
		if v.Type() != wantType || !utf8.Valid(v.JSON()) || !json.Valid(v.JSON()) {
			t.Errorf("%q: type %s, JSON form %q", raw, v.Type(), v.JSON())
		}
		w, err := driver.ValueFromJSON(v.Type(), v.JSON())
		if err != nil || !w.Equal(v) || w.Kind() != driver.KindRawJSON {
			t.Errorf("%q: through the JSON form: %q, %v", raw, w.Bytes(), err)
		}
	}
	for _, bad := range []string{`"e30"`, `"` + base64.StdEncoding.EncodeToString([]byte("{")) + `"`, `7`, `"!!"`} {
		if _, err := driver.ValueFromJSON("rawjson64", []byte(bad)); driver.CodeOf(err) != driver.CodeCorrupted {
			t.Errorf("ValueFromJSON(rawjson64, %s): %v, want ErrStorageCorrupted", bad, err)
		}
	}
}

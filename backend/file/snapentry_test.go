package file

import (
	"strings"
	"testing"

	"github.com/foxstore/foxstore/driver"
)

// snapEntrySeeds are entry lines for the fast path of parseSnapEntry and
// for what it must leave to parseEntry.
var snapEntrySeeds = []string{
	`{"k":"user:1","t":"string","v":"alice"}`,
	`{"k":"user:1","t":"string","v":""}`,
	`{"k":"ünï","t":"string","v":"cødé 🎵"}`,
	`{"k":"token","t":"string","v":"x","exp":1767225600000}`,
	`{"k":"token","t":"string","v":"x","exp":0}`,
	`{"k":"token","t":"string","v":"x","exp":01}`,
	`{"k":"token","t":"string","v":"x","exp":4611686018427387905}`,
	`{"k":"token","t":"string","v":"x","exp":}`,
	`{"k":"token","t":"string","v":"x","exp":1`,
	`{"k":"token","t":"string","v":"x",}`,
	`{"k":"token","t":"string","v":"x"}}`,
	`{"k":"token","t":"string","v":"x""}`,
	`{"k":"","t":"string","v":"x"}`,
	`{"k":"a\"b","t":"string","v":"x"}`,
	`{"k":"a","t":"string","v":"tab\there"}`,
	`{"k":"a","t":"string","v":"x\u00e9"}`,
	"{\"k\":\"a\",\"t\":\"string\",\"v\":\"\xff\"}",
	"{\"k\":\"\xff\",\"t\":\"string\",\"v\":\"x\"}",
	"{\"k\":\"a\",\"t\":\"string\",\"v\":\"a\tb\"}",
	`{"k":[255,"ns",0,"key"],"t":"string","v":"x"}`,
	`{"k":"a","t":"string64","v":"/w=="}`,
	`{"k":"a","t":"int64","v":7}`,
	`{"k":"a","t":"json","v":{"id":7}}`,
	`{"k":"a","del":true}`,
	`{"k": "a","t":"string","v":"x"}`,
	`{"t":"string","k":"a","v":"x"}`,
	`{"k":"a","t":"string","v":"` + strings.Repeat("v", strBlockMax+1) + `"}`,
	`{"k":"` + strings.Repeat("k", driver.MaxStoredKeyLen) + `","t":"string","v":"x"}`,
	`{"k":"` + strings.Repeat("k", driver.MaxStoredKeyLen+1) + `","t":"string","v":"x"}`,
}

// checkSnapEntry fails when parseSnapEntry accepts a line and gives
// anything but what parseEntry gives for it.
func checkSnapEntry(t *testing.T, line string, blocks *strBlocks) bool {
	t.Helper()
	got, ok := parseSnapEntry([]byte(line), blocks)
	if !ok {
		return false
	}
	want, err := parseEntry([]byte(line))
	if err != nil {
		t.Fatalf("%q: the fast path gives %q, parseEntry fails: %v", line, got.Key, err)
	}
	if got.Key != want.Key || got.Delete != want.Delete || got.Entry.Expires != want.Entry.Expires ||
		!got.Entry.Value.Equal(want.Entry.Value) || got.Entry.Value.Type() != want.Entry.Value.Type() {
		t.Fatalf("%q: the fast path gives %q %s %s exp %d, parseEntry %q %s %s exp %d", line,
			got.Key, got.Entry.Value.Type(), got.Entry.Value.JSON(), got.Entry.Expires,
			want.Key, want.Entry.Value.Type(), want.Entry.Value.JSON(), want.Entry.Expires)
	}
	return true
}

func TestParseSnapEntryMatchesParseEntry(t *testing.T) {
	var blocks strBlocks
	fast := 0
	for _, line := range snapEntrySeeds {
		if checkSnapEntry(t, line, &blocks) {
			fast++
		}
	}
	// The plain string entries, with and without a valid deadline, and the
	// longest key and value.
	if fast != 7 {
		t.Errorf("%d of the seed lines took the fast path, want 7", fast)
	}
	// Strings handed out earlier keep their bytes while blocks fill up.
	var keys []string
	for i := range 3 * strBlockSize / 8 {
		w, ok := parseSnapEntry([]byte(`{"k":"key:`+strings.Repeat("x", i%9)+`","t":"string","v":"v"}`), &blocks)
		if !ok {
			t.Fatal("fast path not taken")
		}
		keys = append(keys, w.Key)
	}
	for i, k := range keys {
		if want := "key:" + strings.Repeat("x", i%9); k != want {
			t.Fatalf("key %d is %q, want %q", i, k, want)
		}
	}
}

func FuzzParseSnapEntry(f *testing.F) {
	for _, line := range snapEntrySeeds {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var blocks strBlocks
		checkSnapEntry(t, line, &blocks)
	})
}

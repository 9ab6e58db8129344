package redis

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/foxstore/foxstore/driver"
)

func TestSlotOf(t *testing.T) {
	// Values from the Redis Cluster specification and CLUSTER KEYSLOT.
	for _, c := range []struct {
		key  string
		slot int
	}{
		{"123456789", 0x31C3},
		{"foo", 12182},
		{"bar", 5061},
		{"{user1000}.following", 3443},
		{"", 0},
	} {
		if got := slotOf(c.key); got != c.slot {
			t.Errorf("slotOf(%q) = %d, want %d", c.key, got, c.slot)
		}
	}
	for _, c := range []struct{ key, tag string }{
		{"{user1000}.following", "user1000"},
		{"foo{}{bar}", "foo{}{bar}"}, // empty tag: the whole key
		{"foo{{bar}}zap", "{bar"},
		{"foo{bar}{zap}", "bar"},
		{"no tag", "no tag"},
		{"open{only", "open{only"},
		{"\xffns\x00{t}k", "t"},
		{"\xff{ns}\x00{t}k", "ns"}, // a namespace's tag wins over the key's
	} {
		if got := hashTag(c.key); got != c.tag {
			t.Errorf("hashTag(%q) = %q, want %q", c.key, got, c.tag)
		}
	}
}

func TestPrefixSlot(t *testing.T) {
	for _, c := range []struct {
		prefix string
		ok     bool
	}{
		{"\xff{app}\x00", true},
		{"\xff{app}\x00song:", true},
		{"{a}", true},
		{"{a", false}, // a longer key could close the tag later: "{ab}"
		{"{}", false}, // empty tag: the whole key is hashed
		{"song:", false},
	} {
		slot, ok := prefixSlot(c.prefix)
		if ok != c.ok {
			t.Errorf("prefixSlot(%q) ok = %v, want %v", c.prefix, ok, c.ok)
		}
		if ok && slot != slotOf(c.prefix+"anything") {
			t.Errorf("prefixSlot(%q) = %d, but a key with that prefix is in %d", c.prefix, slot, slotOf(c.prefix+"anything"))
		}
	}
}

func TestWriteSlot(t *testing.T) {
	same := []driver.Write{{Key: "{u:1}:a"}, {Key: "{u:1}:b", Delete: true}, {Key: "x{u:1}"}}
	if _, err := writeSlot(same); err != nil {
		t.Errorf("writeSlot of one tag: %v", err)
	}
	_, err := writeSlot([]driver.Write{{Key: "a"}, {Key: "b"}})
	if driver.CodeOf(err) != driver.CodeInvalid || !strings.Contains(err.Error(), "hash tag") {
		t.Errorf("writeSlot across slots = %v, want ErrStorageInvalid explaining hash tags", err)
	}
	groups := groupBySlot([]string{"a", "{a}1", "b", "{a}2", "a"})
	if len(groups) != 2 || strings.Join(groups[0], ",") != "a,{a}1,{a}2,a" || strings.Join(groups[1], ",") != "b" {
		t.Errorf("groupBySlot = %q", groups)
	}
}

func TestRangePrefix(t *testing.T) {
	ns := "\xffns\x00"
	for _, c := range []struct{ start, end, want string }{
		{"", "", ""},
		{"", "\xff", ""},
		{"song:", "song;", "song:"},
		{ns, ns[:len(ns)-1] + "\x01", ns}, // prefixEnd(ns)
		{ns, ns + "\xff", ns},             // a namespace's own level
		{ns + "a", ns + "b", ns + "a"},
		{"abc", "abd", "abc"},
		{"abc", "abz", "ab"},
		{"abc", "", ""},
		{"\xff\xff", "", "\xff\xff"},
	} {
		if got := rangePrefix(c.start, c.end); got != c.want {
			t.Errorf("rangePrefix(%q, %q) = %q, want %q", c.start, c.end, got, c.want)
		}
	}
}

func TestEscapeGlob(t *testing.T) {
	for in, want := range map[string]string{
		"plain":              "plain",
		`a*b?c[d]e\f`:        `a\*b\?c\[d\]e\\f`,
		"\xffns\x00x^y-z{}!": "\xffns\x00x^y-z{}!",
	} {
		if got := escapeGlob(in); got != want {
			t.Errorf("escapeGlob(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEntryRoundTrip(t *testing.T) {
	for _, x := range []any{"", "héllo", []byte{0, 0xff}, int64(-1), 3.5, nil, true} {
		v, err := driver.EncodeValue(x)
		if err != nil {
			t.Fatal(err)
		}
		for _, exp := range []int64{0, 1, 1<<62 + 5} {
			e := driver.Entry{Value: v, Expires: exp}
			b := encodeEntry(e)
			if len(b) != headerSize+v.Size() {
				t.Errorf("%#v: encoded %d bytes, want %d", x, len(b), headerSize+v.Size())
			}
			got, err := decodeEntry(b)
			if err != nil {
				t.Fatalf("decodeEntry(%q): %v", b, err)
			}
			if !got.Value.Equal(v) || got.Expires != exp {
				t.Errorf("round trip of %#v, %d: got %v, %d", x, exp, got.Value, got.Expires)
			}
		}
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	good := encodeEntry(driver.Entry{Value: mustValue(t, "x"), Expires: 7})
	for name, b := range map[string][]byte{
		"empty":          nil,
		"header only":    good[:headerSize],
		"foreign string": []byte("hello world, not foxstore"),
		"version 2":      append([]byte{2}, good[1:]...),
		"negative":       append([]byte{1, 0xff, 0, 0, 0, 0, 0, 0, 0}, good[headerSize:]...),
		"bad payload":    append(bytes.Clone(good[:headerSize]), 0xee),
	} {
		_, err := decodeEntry(b)
		if !errors.Is(err, driver.ErrStorageCorrupted) {
			t.Errorf("%s: decodeEntry = %v, want ErrStorageCorrupted", name, err)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry(driver.Entry{Value: mustValue(f, "x"), Expires: 7}))
	f.Add(encodeEntry(driver.Entry{Value: mustValue(f, []byte{1, 2})}))
	f.Add([]byte("foreign"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			if driver.CodeOf(err) != driver.CodeCorrupted {
				t.Fatalf("error without the corrupted code: %v", err)
			}
			return
		}
		again, err := decodeEntry(encodeEntry(e))
		if err != nil || !again.Value.Equal(e.Value) || again.Expires != e.Expires {
			t.Fatalf("re-encoding %q does not round-trip: %v", b, err)
		}
	})
}

func mustValue(t testing.TB, x any) driver.Value {
	t.Helper()
	v, err := driver.EncodeValue(x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestGroupWrites(t *testing.T) {
	v := mustValue(t, "v")
	set := func(k string, exp int64) driver.Write {
		return driver.Write{Key: k, Entry: driver.Entry{Value: v, Expires: exp}}
	}
	del := func(k string) driver.Write { return driver.Write{Key: k, Delete: true} }
	for _, c := range []struct {
		ws   []driver.Write
		cmds int
	}{
		{[]driver.Write{set("a", 0)}, 1},
		{[]driver.Write{set("a", 0), set("b", 0), set("c", 0)}, 1},
		{[]driver.Write{del("a"), del("b")}, 1},
		{[]driver.Write{set("a", 5)}, 1},
		{[]driver.Write{set("a", 0), del("b")}, 2},
		{[]driver.Write{set("a", 5), set("b", 6), set("c", 0), del("d")}, 4},
	} {
		g := groupWrites(c.ws)
		if got := g.commands(); got != c.cmds {
			t.Errorf("%d writes: %d commands, want %d", len(c.ws), got, c.cmds)
		}
		// Every MSET value is the entry's own encoding, not a neighbour's.
		for i := 0; i < len(g.mset); i += 2 {
			e, err := decodeEntry(g.mset[i+1].([]byte))
			if err != nil || !e.Value.Equal(v) || e.Expires != 0 {
				t.Errorf("MSET value of %v: %v, %v", g.mset[i], e, err)
			}
		}
	}
}

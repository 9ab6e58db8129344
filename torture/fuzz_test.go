package torture_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/pattern"
)

// Fuzz targets of the front as a whole (issue 7 §4): the parsers have their
// own next to them (pattern, internal/config, driver, backend/file,
// internal/dump, backend/redis); these check what the front builds on them,
// pattern scans and namespace encoding, against a model.

func validKey(k string) bool {
	return k != "" && len(k) <= foxstore.MaxKeyLen && utf8.ValidString(k) && !strings.ContainsRune(k, 0)
}

// FuzzPatternScan stores the keys of a newline-separated list in the base
// store and in a view, and checks that Keys, Count and Find of a pattern give
// exactly the keys of that store the pattern matches: the literal-prefix
// range the front scans must never leave a match out or let another
// namespace's key in.
func FuzzPatternScan(f *testing.F) {
	f.Add("a\nab\nabc\nb\n\u00ff\n\U0010ffff\na\U0010ffff\na\U0010ffffb", "a*")
	f.Add("k\xc3\nk\u00e9\nk\u00ea\nl", "k\u00e9*")
	f.Add("a*b\na\\b\naxb\n[a]\na", "a\\**")
	f.Add("x:1\nx:2\nx:10\ny", "x:?")
	f.Add("\uffff\n\uffffa\n\uffff\uffff", "\uffff*")
	f.Add("song:1\nsong:2\nsongs\nsong", "song:[0-9]")
	f.Fuzz(func(t *testing.T, list, pat string) {
		var keys []string
		for _, k := range strings.Split(list, "\n") {
			if validKey(k) && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		if len(keys) > 64 {
			keys = keys[:64]
		}
		base := newMemory(t)
		view := foxstore.WithNamespace(base, "v")
		other := foxstore.WithNamespace(base, "w")
		for _, s := range []foxstore.StoragePlugin{base, view, other} {
			m := map[string]any{}
			for _, k := range keys {
				m[k] = k
			}
			if err := s.SetBatch(t.Context(), m); err != nil {
				t.Fatalf("SetBatch: %v", err)
			}
		}
		p, perr := pattern.Compile(pat)
		for _, s := range []foxstore.StoragePlugin{base, view} {
			got, err := s.Keys(t.Context(), pat)
			if perr != nil {
				if !errors.Is(err, foxstore.ErrStorageInvalid) {
					t.Fatalf("Keys(%q) of a malformed pattern: %q, %v", pat, got, err)
				}
				continue
			}
			want := []string{}
			for _, k := range keys {
				if p.Match(k) {
					want = append(want, k)
				}
			}
			slices.Sort(want)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("Keys(%q) over %q = %q, %v; want %q", pat, keys, got, err, want)
			}
			if n, err := s.Count(t.Context(), pat); err != nil || n != len(want) {
				t.Fatalf("Count(%q) = %d, %v; want %d", pat, n, err, len(want))
			}
			m, err := s.Find(t.Context(), pat)
			if err != nil || !slices.Equal(slices.Sorted(maps.Keys(m)), want) {
				t.Fatalf("Find(%q) = %d keys, %v; want %q", pat, len(m), err, want)
			}
			for k, v := range m {
				if v != k {
					t.Fatalf("Find(%q)[%q] = %v", pat, k, v)
				}
			}
		}
	})
}

// FuzzNamespaceIsolation writes one key into the base store, two views and
// two views nested the other way round, and checks that each sees only its
// own copy, through every read, whatever the names, key and pattern.
func FuzzNamespaceIsolation(f *testing.F) {
	f.Add("a", "b", "k", "*")
	f.Add("a", "a:b", "b:y", "*y")
	f.Add("a:b", "a", "y", "b*")
	f.Add("a\\", "a", "\\*", "\\\\*")
	f.Add("*", "?", "[", "[[]")
	f.Add("\U0010ffff", "\uffff", "\u00ff", "[^a]*")
	f.Fuzz(func(t *testing.T, ns1, ns2, key, pat string) {
		if !validKey(ns1) || !validKey(ns2) || !validKey(key) || ns1 == ns2 {
			return
		}
		ctx := t.Context()
		base := newMemory(t)
		a := foxstore.WithNamespace(base, ns1)
		b := foxstore.WithNamespace(base, ns2)
		views := []struct {
			name string
			s    foxstore.StoragePlugin
		}{
			{"base", base}, {"a", a}, {"b", b},
			{"a/b", foxstore.WithNamespace(a, ns2)}, {"b/a", foxstore.WithNamespace(b, ns1)},
		}
		for _, v := range views {
			if err := v.s.Set(ctx, key, v.name, 0); err != nil {
				t.Fatalf("%s: Set: %v", v.name, err)
			}
		}
		p, perr := pattern.Compile(pat)
		for _, v := range views {
			if got, err := v.s.Get(ctx, key); err != nil || got != v.name {
				t.Fatalf("%s: Get(%q) = %v, %v; want its own %q", v.name, key, got, err, v.name)
			}
			if keys, err := v.s.Keys(ctx, "*"); err != nil || !slices.Equal(keys, []string{key}) {
				t.Fatalf("%s: Keys(*) = %q, %v; want [%q]", v.name, keys, err, key)
			}
			got, err := v.s.Find(ctx, pat)
			if perr != nil {
				if !errors.Is(err, foxstore.ErrStorageInvalid) {
					t.Fatalf("%s: Find(%q) of a malformed pattern: %v", v.name, pat, err)
				}
				continue
			}
			want := map[string]any{}
			if p.Match(key) {
				want[key] = v.name
			}
			if err != nil || !maps.Equal(got, want) {
				t.Fatalf("%s: Find(%q) = %v, %v; want %v", v.name, pat, got, err, want)
			}
		}
		// Deleting through one never touches the others.
		if err := a.DeleteBatch(ctx, []string{key}); err != nil {
			t.Fatal(err)
		}
		for _, v := range views {
			_, err := v.s.Get(ctx, key)
			if gone := errors.Is(err, foxstore.ErrStorageNotFound); gone != (v.name == "a") {
				t.Fatalf("after a delete in view a, view %s: Get = %v", v.name, err)
			}
		}
		if n, err := base.Count(ctx, "*"); err != nil || n != 1 {
			t.Fatalf("base Count(*) = %d, %v", n, err)
		}
	})
}

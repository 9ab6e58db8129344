package storagetest

import (
	"io"
	"slices"
	"testing"

	"github.com/foxstore/foxstore"
)

// store is what the suite needs from a store under test: every store that
// foxstore.Open returns offers it.
type store interface {
	foxstore.StoragePlugin
	foxstore.Expirer
	io.Closer
}

type suite struct {
	newStore func(t *testing.T) foxstore.StoragePlugin
}

// Run checks the store that newStore returns against every rule of
// CONTRACT.md that a store can show through its methods: keys, values, TTL,
// patterns, batches, transactions, errors, contexts, closing, cache
// statistics, concurrency and namespaces.
//
// newStore is called once per subtest, from that subtest, and must return a
// started, empty store of its own (see the package documentation).
func Run(t *testing.T, newStore func(t *testing.T) foxstore.StoragePlugin) {
	t.Helper()
	if newStore == nil {
		t.Fatal("storagetest.Run: newStore is nil")
	}
	s := &suite{newStore: newStore}
	groups := []struct {
		name string
		run  func(*testing.T, *suite)
	}{
		{"Keys", testKeys},
		{"Values", testValues},
		{"TTL", testTTL},
		{"Patterns", testPatterns},
		{"Batches", testBatches},
		{"Transactions", testTransactions},
		{"Errors", testErrors},
		{"Context", testContext},
		{"Closed", testClosed},
		{"Cache", testCache},
		{"Concurrency", testConcurrency},
		{"Namespaces", testNamespaces},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.run(t, s) })
	}
}

// open returns a fresh store for t, checked to offer the whole Store
// interface and to be empty.
func (s *suite) open(t *testing.T) store {
	t.Helper()
	p := s.newStore(t)
	if p == nil {
		t.Fatal("newStore returned nil")
	}
	st, ok := p.(store)
	if !ok {
		_, exp := p.(foxstore.Expirer)
		_, cl := p.(io.Closer)
		t.Fatalf("newStore returned %T, which does not implement foxstore.Expirer (%v) and io.Closer (%v)", p, exp, cl)
	}
	keys, err := st.Keys(t.Context(), "*")
	if err != nil {
		t.Fatalf("Keys(\"*\") on a fresh store: %v", err)
	}
	if len(keys) != 0 {
		t.Fatalf("newStore returned a store that already holds %d keys (%q...): each call must return an empty store of its own",
			len(keys), keys[:min(len(keys), 3)])
	}
	return st
}

// run runs fn as a parallel subtest on a store of its own.
func (s *suite) run(t *testing.T, name string, fn func(t *testing.T, st store)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		fn(t, s.open(t))
	})
}

// sortedCopy returns keys sorted by their bytes, as Keys must return them.
func sortedCopy(keys []string) []string {
	out := slices.Clone(keys)
	slices.Sort(out)
	return out
}

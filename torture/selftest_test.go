package torture

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

// These tests prove that each check fails on a store that breaks the
// contract the way the check is meant to catch: a checker that cannot fail
// proves nothing.

// recorder collects what a workload reports instead of failing the test.
type recorder struct {
	t    *testing.T
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Logf(format string, args ...any) {
	r.t.Logf(format, args...)
}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs) > 0
}

// wantCaught fails t unless the recorder holds an error containing want.
func (r *recorder) wantCaught(want string) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		if strings.Contains(e, want) {
			r.t.Logf("caught, as it should be: %.300s", e)
			return
		}
	}
	r.t.Errorf("the broken store was not caught (want an error containing %q); errors: %q", want, r.errs)
}

func memoryStore(t *testing.T) foxstore.StoragePlugin {
	s, err := foxstore.Open(t.Context(), foxstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.(io.Closer).Close() })
	return s
}

// staleStore answers some Gets with the value a key held before its last
// Set: the classic stale read of a badly kept cache.
type staleStore struct {
	foxstore.StoragePlugin
	mu   sync.Mutex
	prev map[string]any
	rng  *rand.Rand
}

func (s *staleStore) Set(ctx context.Context, key string, v any, ttl time.Duration) error {
	old, err := s.StoragePlugin.Get(ctx, key)
	if err != nil {
		old = nil
	}
	s.mu.Lock()
	s.prev[key] = old
	s.mu.Unlock()
	return s.StoragePlugin.Set(ctx, key, v, ttl)
}

func (s *staleStore) Get(ctx context.Context, key string) (any, error) {
	s.mu.Lock()
	old, has := s.prev[key]
	stale := has && old != nil && s.rng.IntN(4) == 0
	s.mu.Unlock()
	if stale {
		return old, nil
	}
	return s.StoragePlugin.Get(ctx, key)
}

// looseStore's transactions read the store directly and write at commit
// without checking what they read: lost updates and write skew.
type looseStore struct{ foxstore.StoragePlugin }

func (s looseStore) BeginTransaction(ctx context.Context) (foxstore.Transaction, error) {
	return &looseTx{s: s.StoragePlugin, ctx: ctx, writes: map[string]any{}}, nil
}

type looseTx struct {
	s      foxstore.StoragePlugin
	ctx    context.Context
	mu     sync.Mutex
	writes map[string]any
}

func (tx *looseTx) Get(key string) (any, error) {
	tx.mu.Lock()
	v, ok := tx.writes[key]
	tx.mu.Unlock()
	if ok {
		return v, nil
	}
	runtime.Gosched()
	return tx.s.Get(tx.ctx, key)
}
func (tx *looseTx) Set(key string, v any) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.writes[key] = v
	return nil
}
func (tx *looseTx) Delete(string) error { return fmt.Errorf("looseTx: no Delete") }
func (tx *looseTx) Commit() error {
	runtime.Gosched()
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if len(tx.writes) == 0 {
		return nil
	}
	return tx.s.SetBatch(tx.ctx, tx.writes)
}
func (tx *looseTx) Rollback() error { return nil }

// forgetfulStore acknowledges some writes without making them.
type forgetfulStore struct {
	foxstore.StoragePlugin
	mu  sync.Mutex
	rng *rand.Rand
}

func (s *forgetfulStore) drop() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.IntN(50) == 0
}

func (s *forgetfulStore) Set(ctx context.Context, key string, v any, ttl time.Duration) error {
	if s.drop() {
		return nil
	}
	return s.StoragePlugin.Set(ctx, key, v, ttl)
}

func (s *forgetfulStore) SetBatch(ctx context.Context, m map[string]any) error {
	if s.drop() {
		return nil
	}
	return s.StoragePlugin.SetBatch(ctx, m)
}

func TestSelfLinearizableCatchesStaleReads(t *testing.T) {
	r := &recorder{t: t}
	vizDir = t.TempDir()
	t.Cleanup(func() { vizDir = "" })
	st := &staleStore{StoragePlugin: memoryStore(t), prev: map[string]any{}, rng: rand.New(rand.NewPCG(1, 2))}
	linearizable(t, r, st, Options{Duration: 200 * time.Millisecond})
	r.wantCaught("NOT linearizable")
}

func TestSelfLinearizableCatchesLostUpdates(t *testing.T) {
	r := &recorder{t: t}
	vizDir = t.TempDir()
	t.Cleanup(func() { vizDir = "" })
	linearizable(t, r, looseStore{memoryStore(t)}, Options{Duration: 300 * time.Millisecond, Keys: 1})
	r.wantCaught("NOT linearizable")
}

func TestSelfBankCatchesLostUpdates(t *testing.T) {
	r := &recorder{t: t}
	bank(t, r, looseStore{memoryStore(t)}, Options{Duration: 200 * time.Millisecond, Keys: 3})
	r.wantCaught("total")
}

func TestSelfAppendCatchesLostUpdates(t *testing.T) {
	r := &recorder{t: t}
	appendWorkload(t, r, looseStore{memoryStore(t)}, Options{Duration: 200 * time.Millisecond, Keys: 2})
	r.wantCaught("")
}

func TestSelfSetCatchesLostAdds(t *testing.T) {
	r := &recorder{t: t}
	st := &forgetfulStore{StoragePlugin: memoryStore(t), rng: rand.New(rand.NewPCG(3, 4))}
	setWorkload(t, r, st, Options{Duration: 200 * time.Millisecond})
	r.wantCaught("acknowledged before the read began")
	r.wantCaught("is lost")
}

// TestSelfAppendChecks feeds checkAppend hand-made histories, one per
// anomaly, and a good one.
func TestSelfAppendChecks(t *testing.T) {
	tx := func(id int, mops ...appendMop) *appendTxn { return &appendTxn{id: id, mops: mops, state: ok} }
	rd := func(k int, l ...int) appendMop { return appendMop{key: k, read: l} }
	ap := func(k, e int) appendMop { return appendMop{key: k, append: e} }
	cases := []struct {
		name  string
		txns  []*appendTxn
		final [][]int
		want  string
	}{
		{"serializable", []*appendTxn{
			tx(1, rd(0), ap(0, 1)),
			tx(2, rd(0, 1), ap(0, 2), rd(1), ap(1, 3)),
			tx(3, rd(1, 3), rd(0, 1, 2)),
		}, [][]int{{1, 2}, {3}}, ""},
		{"lost element", []*appendTxn{
			tx(1, rd(0), ap(0, 1)),
			tx(2, rd(0), ap(0, 2)),
		}, [][]int{{2}, nil}, "acknowledged element 1"},
		{"duplicate", []*appendTxn{
			tx(1, rd(0), ap(0, 1)),
		}, [][]int{{1, 1}, nil}, "appears twice"},
		{"never appended", []*appendTxn{
			tx(1, rd(0), ap(0, 1)),
		}, [][]int{{1, 7}, nil}, "never appended"},
		{"read not a prefix", []*appendTxn{
			tx(1, rd(0), ap(0, 1)),
			tx(2, rd(0), ap(0, 2)),
			tx(3, rd(0, 2)),
		}, [][]int{{1, 2}, nil}, "not a prefix"},
		{"lost update", []*appendTxn{
			tx(1, rd(0), ap(0, 1)),
			tx(2, rd(0), ap(0, 2)),
		}, [][]int{{1, 2}, nil}, "lost update"},
		{"write skew", []*appendTxn{
			// Each reads the key the other writes, and neither sees the
			// other's write: no serial order gives that.
			tx(1, rd(0), rd(1), ap(1, 1)),
			tx(2, rd(1), rd(0), ap(0, 2)),
		}, [][]int{{2}, {1}}, "cycle"},
		{"indeterminate may be absent", []*appendTxn{
			tx(1, rd(0), ap(0, 1)),
			{id: 2, mops: []appendMop{ap(0, 2)}, state: indeterminate},
		}, [][]int{{1}, nil}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := checkAppend(c.txns, c.final)
			if c.want == "" {
				if len(got) > 0 {
					t.Errorf("a good history was refused: %q", got)
				}
				return
			}
			for _, g := range got {
				if strings.Contains(g, c.want) {
					return
				}
			}
			t.Errorf("want an error containing %q, got %q", c.want, got)
		})
	}
}

// TestSelfKillCatchesLostWrites runs Kill on a file store with async writes
// and a long flush interval, claiming that nothing may be lost: the kills
// must find lost acknowledged writes.
func TestSelfKillCatchesLostWrites(t *testing.T) {
	r := &recorder{t: t}
	kill(t, r, func(t *testing.T, dir string) foxstore.StoragePlugin {
		s, err := foxstore.Open(t.Context(), foxstore.Config{
			Backend: "file", FilePath: filepath.Join(dir, "store.json"),
			AsyncWrite: true, FlushInterval: time.Hour,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.(io.Closer).Close() })
		return s
	}, KillOptions{Kills: 2})
	r.wantCaught("is lost")
}

package storagetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

// concurrencyTimeout bounds each concurrency test. Update retries until ctx
// ends, so an Update that fails within it points at a livelock or a bug.
const concurrencyTimeout = 60 * time.Second

func testConcurrency(t *testing.T, s *suite) {
	s.run(t, "LostUpdate", testLostUpdate)
	s.run(t, "Bank", testBank)
	s.run(t, "AtomicVisibility", testAtomicVisibility)
	s.run(t, "SharedTransaction", testSharedTransaction)
	s.run(t, "RandomWorkload", testRandomWorkload)
}

// scale returns n, or small with -short.
func scale(n, small int) int {
	if testing.Short() {
		return small
	}
	return n
}

// testLostUpdate increments one counter from many goroutines through Update:
// every successful increment must count (CONTRACT §7).
func testLostUpdate(t *testing.T, st store) {
	ctx, cancel := context.WithTimeout(t.Context(), concurrencyTimeout)
	defer cancel()
	workers, perWorker := scale(8, 4), scale(25, 10)
	mustSet(t, st, "counter", 0)
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				err := foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
					v, err := tx.Get("counter")
					if err != nil {
						return err
					}
					n, err := asInt(v)
					if err != nil {
						return err
					}
					// Widen the window between read and write, so that a
					// store that loses updates loses some here.
					runtime.Gosched()
					return tx.Set("counter", n+1)
				})
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				} else {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d increments failed; first: %v", n, workers*perWorker, firstErr.Load())
	}
	wantValue(t, st, "counter", int(ok.Load()))
}

// testBank moves money between accounts in concurrent transactions while
// readers check, in transactions that commit, that the total never changes.
func testBank(t *testing.T, st store) {
	ctx, cancel := context.WithTimeout(t.Context(), concurrencyTimeout)
	defer cancel()
	const accounts, initial = 10, 100
	const total = accounts * initial
	workers, transfers := 4, scale(200, 60)
	keys := make([]string, accounts)
	batch := map[string]any{}
	for i := range keys {
		keys[i] = fmt.Sprintf("acct:%d", i)
		batch[keys[i]] = initial
	}
	noErr(t, st.SetBatch(ctx, batch), "SetBatch")

	var problems sync.Map // message → struct{}; reported once the goroutines are done
	report := func(format string, args ...any) { problems.Store(fmt.Sprintf(format, args...), struct{}{}) }

	readAll := func(tx foxstore.Transaction) (sum int, err error) {
		for _, k := range keys {
			v, err := tx.Get(k)
			if err != nil {
				return 0, err
			}
			n, err := asInt(v)
			if err != nil {
				return 0, err
			}
			sum += n
		}
		return sum, nil
	}

	var writers, readers sync.WaitGroup
	var next atomic.Int64
	for w := range workers {
		writers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for next.Add(1) <= int64(transfers) {
				from, to := rng.IntN(accounts), rng.IntN(accounts-1)
				if to >= from {
					to++
				}
				amount := 1 + rng.IntN(30)
				err := foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
					a, err := tx.Get(keys[from])
					if err != nil {
						return err
					}
					b, err := tx.Get(keys[to])
					if err != nil {
						return err
					}
					an, err := asInt(a)
					if err != nil {
						return err
					}
					bn, err := asInt(b)
					if err != nil {
						return err
					}
					if an < amount {
						return nil
					}
					if err := tx.Set(keys[from], an-amount); err != nil {
						return err
					}
					return tx.Set(keys[to], bn+amount)
				})
				if err != nil {
					report("transfer: Update: %v", err)
				}
			}
		})
	}
	writersDone := make(chan struct{})
	var checks atomic.Int64
	for range 2 {
		readers.Go(func() {
			for first := true; ; first = false {
				if !first {
					select {
					case <-writersDone:
						return
					default:
					}
				}
				var sum int
				err := foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
					var err error
					sum, err = readAll(tx)
					return err
				})
				if err != nil {
					report("audit: Update: %v", err)
					return
				}
				// Only a committed transaction promises a consistent view.
				checks.Add(1)
				if sum != total {
					report("audit: a committed transaction saw a total of %d, want %d", sum, total)
				}
			}
		})
	}
	writers.Wait()
	close(writersDone)
	readers.Wait()
	problems.Range(func(k, _ any) bool {
		t.Error(k)
		return true
	})

	m, err := st.GetBatch(ctx, keys)
	if !noErr(t, err, "GetBatch") {
		return
	}
	sum := 0
	for _, k := range keys {
		n, err := asInt(m[k])
		if err != nil {
			t.Errorf("%s: %v", k, err)
		}
		if n < 0 {
			t.Errorf("%s = %d, below zero", k, n)
		}
		sum += n
	}
	if sum != total {
		t.Errorf("after the transfers the accounts hold %d, want %d", sum, total)
	}
	t.Logf("%d transfers, %d audits", transfers, checks.Load())
}

// testAtomicVisibility checks that SetBatch and Commit are atomic to
// readers: a committed transaction that reads every key of a batch sees one
// generation, never a mix (CONTRACT §6, §7: transactions are serializable
// with single operations).
func testAtomicVisibility(t *testing.T, st store) {
	ctx, cancel := context.WithTimeout(t.Context(), concurrencyTimeout)
	defer cancel()
	keys := []string{"g:0", "g:1", "g:2", "g:3", "g:4"}
	generation := func(n int) map[string]any {
		m := map[string]any{}
		for _, k := range keys {
			m[k] = n
		}
		return m
	}
	noErr(t, st.SetBatch(ctx, generation(0)), "SetBatch")

	var problems sync.Map
	report := func(format string, args ...any) { problems.Store(fmt.Sprintf(format, args...), struct{}{}) }
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for n := 1; n <= scale(60, 20); n++ {
			var err error
			if n%2 == 0 {
				err = st.SetBatch(ctx, generation(n))
			} else {
				err = foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
					for _, k := range keys {
						if err := tx.Set(k, n); err != nil {
							return err
						}
					}
					return nil
				})
			}
			if err != nil {
				report("writer: generation %d: %v", n, err)
				return
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			for {
				var seen []any
				err := foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
					seen = seen[:0]
					for _, k := range keys {
						v, err := tx.Get(k)
						if err != nil {
							return err
						}
						seen = append(seen, v)
					}
					return nil
				})
				if err != nil {
					report("reader: Update: %v", err)
					return
				}
				for _, v := range seen[1:] {
					if v != seen[0] {
						report("a committed transaction saw a mix of generations: %v", seen)
						break
					}
				}
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}
	wg.Wait()
	problems.Range(func(k, _ any) bool {
		t.Error(k)
		return true
	})
}

// testSharedTransaction uses one transaction from several goroutines at
// once: its methods are safe for concurrent use (CONTRACT §11).
func testSharedTransaction(t *testing.T, st store) {
	mustSet(t, st, "base", "b")
	tx := mustBegin(t, st)
	defer tx.Rollback()
	const workers, each = 4, 20
	var failures atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				k := fmt.Sprintf("w%d:%02d", w, i)
				if tx.Set(k, i) != nil {
					failures.Add(1)
				}
				if v, err := tx.Get(k); err != nil || v != i {
					failures.Add(1)
				}
				if v, err := tx.Get("base"); err != nil || v != "b" {
					failures.Add(1)
				}
				if i%5 == 0 && tx.Delete(k) != nil {
					failures.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d operations on a transaction shared by %d goroutines failed or read the wrong value", n, workers)
	}
	noErr(t, tx.Commit(), "Commit")
	n, err := st.Count(t.Context(), "w*")
	if noErr(t, err, "Count") && n != workers*(each-each/5) {
		t.Errorf("Count after the shared transaction = %d, want %d", n, workers*(each-each/5))
	}
}

// randomSeed returns STORAGETEST_SEED, or a fresh seed.
func randomSeed(t *testing.T) uint64 {
	if s := os.Getenv("STORAGETEST_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("STORAGETEST_SEED=%q: %v", s, err)
		}
		return n
	}
	return rand.Uint64()
}

// testRandomWorkload runs a random mix of every operation from several
// goroutines on a small key space, under -race. Every error must be one the
// contract allows for that operation, and every value read must be one that
// some writer wrote.
func testRandomWorkload(t *testing.T, st store) {
	seed := randomSeed(t)
	t.Logf("seed %d (STORAGETEST_SEED=%d replays it)", seed, seed)
	ctx, cancel := context.WithTimeout(t.Context(), concurrencyTimeout)
	defer cancel()

	const nKeys = 8
	keys := make([]string, nKeys)
	initial := map[string]any{}
	var written sync.Map // every value any writer wrote
	for i := range keys {
		keys[i] = fmt.Sprintf("r:%d", i)
		initial[keys[i]] = "init:" + keys[i]
		written.Store(initial[keys[i]], true)
	}
	noErr(t, st.SetBatch(ctx, initial), "SetBatch")

	var problems sync.Map
	var nProblems atomic.Int64
	report := func(format string, args ...any) {
		if nProblems.Add(1) <= 20 {
			problems.Store(fmt.Sprintf(format, args...), struct{}{})
		}
	}
	checkValue := func(op, key string, v any) {
		s, ok := v.(string)
		if !ok {
			report("%s(%s) = %s, a value nobody wrote", op, key, describe(v))
			return
		}
		if _, ok := written.Load(s); !ok {
			report("%s(%s) = %q, a value nobody wrote", op, key, s)
		}
	}
	// allowed reports err unless it is nil or carries one of codes.
	allowed := func(op string, err error, codes ...int) {
		if err == nil {
			return
		}
		var fe *foxstore.Error
		if errors.As(err, &fe) && slices.Contains(codes, foxstore.CodeOf(err)) {
			return
		}
		report("%s: unexpected error %v", op, err)
	}

	workers, ops := 4, scale(200, 50)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			seq := 0
			fresh := func() string {
				seq++
				v := fmt.Sprintf("w%d:%d", w, seq)
				written.Store(v, true)
				return v
			}
			key := func() string { return keys[rng.IntN(nKeys)] }
			for range ops {
				switch rng.IntN(17) {
				case 0:
					k := key()
					v, err := st.Get(ctx, k)
					allowed("Get", err, foxstore.CodeNotFound)
					if err == nil {
						checkValue("Get", k, v)
					}
				case 1:
					ttl := time.Duration(0)
					if rng.IntN(4) == 0 {
						ttl = longTTL
					}
					allowed("Set", st.Set(ctx, key(), fresh(), ttl))
				case 2:
					allowed("Delete", st.Delete(ctx, key()))
				case 3:
					st.Exists(ctx, key())
				case 4:
					ks := []string{key(), key(), key()}
					m, err := st.GetBatch(ctx, ks)
					allowed("GetBatch", err)
					for k, v := range m {
						if !slices.Contains(ks, k) {
							report("GetBatch(%q) returned key %q", ks, k)
						}
						checkValue("GetBatch", k, v)
					}
				case 5:
					allowed("SetBatch", st.SetBatch(ctx, map[string]any{key(): fresh(), key(): fresh()}))
				case 6:
					allowed("DeleteBatch", st.DeleteBatch(ctx, []string{key(), key()}))
				case 7:
					ks, err := st.Keys(ctx, "r:*")
					allowed("Keys", err)
					if !slices.IsSorted(ks) {
						report("Keys(r:*) = %q, not sorted", ks)
					}
					for _, k := range ks {
						if !slices.Contains(keys, k) {
							report("Keys(r:*) returned %q", k)
						}
					}
				case 8:
					m, err := st.Find(ctx, "r:?")
					allowed("Find", err)
					for k, v := range m {
						if !slices.Contains(keys, k) {
							report("Find(r:?) returned %q", k)
						}
						checkValue("Find", k, v)
					}
				case 9:
					n, err := st.Count(ctx, "r:*")
					allowed("Count", err)
					if n < 0 || n > nKeys {
						report("Count(r:*) = %d", n)
					}
				case 10:
					from, to := key(), key()
					v := fresh()
					err := foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
						got, err := tx.Get(from)
						if err == nil {
							checkValue("tx.Get", from, got)
						} else if !errors.Is(err, foxstore.ErrStorageNotFound) {
							return err
						}
						return tx.Set(to, v)
					})
					allowed("Update", err)
				case 11:
					tx, err := st.BeginTransaction(ctx)
					allowed("BeginTransaction", err)
					if err != nil {
						break
					}
					k := key()
					got, err := tx.Get(k)
					allowed("tx.Get", err, foxstore.CodeNotFound)
					if err == nil {
						checkValue("tx.Get", k, got)
					}
					allowed("tx.Set", tx.Set(k, fresh()))
					if rng.IntN(3) == 0 {
						allowed("tx.Delete", tx.Delete(key()))
					}
					if rng.IntN(4) == 0 {
						allowed("Rollback", tx.Rollback())
					} else {
						allowed("Commit", tx.Commit(), foxstore.CodeConflict)
					}
					allowed("Rollback after the end", tx.Rollback())
				case 12:
					d, err := st.TTL(ctx, key())
					allowed("TTL", err, foxstore.CodeNotFound)
					if d < 0 || d > longTTL+time.Millisecond {
						report("TTL = %v", d)
					}
				case 13:
					ttl := time.Duration(0)
					if rng.IntN(2) == 0 {
						ttl = longTTL
					}
					allowed("Expire", st.Expire(ctx, key(), ttl), foxstore.CodeNotFound)
				case 14:
					if cs, err := st.GetCacheStats(ctx); err != nil || cs == nil {
						report("GetCacheStats: %v, %v", cs, err)
					}
				case 15:
					allowed("ClearCache", st.ClearCache(ctx))
				case 16:
					k := key()
					v, err := foxstore.GetAs[string](ctx, st, k)
					allowed("GetAs", err, foxstore.CodeNotFound)
					if err == nil {
						checkValue("GetAs", k, v)
					}
				}
			}
		})
	}
	wg.Wait()
	problems.Range(func(k, _ any) bool {
		t.Error(k)
		return true
	})
	if n := nProblems.Load(); n > 20 {
		t.Errorf("... %d problems in all", n)
	}
	m, err := st.Find(ctx, "*")
	if noErr(t, err, "Find") {
		for k, v := range m {
			if !slices.Contains(keys, k) {
				t.Errorf("after the workload the store holds key %q", k)
			}
			if s, ok := v.(string); !ok {
				t.Errorf("after the workload %s = %s, a value nobody wrote", k, describe(v))
			} else if _, ok := written.Load(s); !ok {
				t.Errorf("after the workload %s = %q, a value nobody wrote", k, s)
			}
		}
	}
}

package torture

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/foxstore/foxstore"
)

// Set is Jepsen's set workload, with one key per element. opts.Clients
// goroutines add fresh elements (a key each) with Set, SetBatch and
// transactions, while readers list them with Keys, Find and Count:
//
//   - a read sees every element whose add was acknowledged before the read
//     began (a store never answers from a state older than a write that
//     already returned), and nothing that was never added;
//   - at the end, every acknowledged add is there, with its value.
//
// opts.Keys is not used: the workload adds as many keys as it can.
func Set(t *testing.T, newStore func(*testing.T) foxstore.StoragePlugin, opts Options) Stats {
	t.Helper()
	return setWorkload(t, t, open(t, newStore), opts)
}

func setWorkload(t *testing.T, r reporter, st foxstore.StoragePlugin, opts Options) Stats {
	r.Helper()
	opts = opts.withDefaults(r, 0)
	return inRounds(r, opts, "set", func(opts Options, prefix string) Stats {
		return setRound(t, r, st, opts, prefix)
	})
}

func setRound(t *testing.T, r reporter, st foxstore.StoragePlugin, opts Options, prefix string) Stats {
	r.Helper()
	key := func(e int) string { return fmt.Sprintf("%se%08d", prefix, e) }
	pattern := prefix + "e*"

	var (
		probs problems
		next  atomic.Int64
		// acked lists acknowledged elements in the order of their
		// acknowledgment; a read that starts when len(acked) is n must
		// see acked[:n].
		ackMu     sync.Mutex
		acked     []int
		attempted sync.Map // element → true: everything ever sent
		mu        sync.Mutex
		stats     Stats
	)
	ack := func(es ...int) {
		ackMu.Lock()
		acked = append(acked, es...)
		ackMu.Unlock()
	}
	ackedSoFar := func() int {
		ackMu.Lock()
		defer ackMu.Unlock()
		return len(acked)
	}
	ctx, cancel := context.WithTimeout(t.Context(), opts.Duration)
	defer cancel()
	stopFaults := opts.startFaults(ctx, rand.New(rand.NewPCG(opts.Seed, 99)))

	var wg sync.WaitGroup
	for c := range opts.Clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(opts.Seed, uint64(c)))
			var ops, ind, failed int
			for ctx.Err() == nil {
				octx, ocancel := opts.opCtx(t.Context())
				var err error
				if c%2 == 1 {
					// A reader.
					err = setRead(octx, st, rng.IntN(3), pattern, prefix, ackedSoFar, func() []int {
						ackMu.Lock()
						defer ackMu.Unlock()
						return acked
					}, &attempted, &probs)
					ocancel()
					if err != nil {
						opts.unexpected(&probs, "read", err)
						failed++
					} else {
						ops++
					}
					continue
				}
				n := 1
				how := rng.IntN(3)
				if how > 0 {
					n = 1 + rng.IntN(4)
				}
				es := make([]int, n)
				for i := range es {
					es[i] = int(next.Add(1))
					attempted.Store(es[i], true)
				}
				switch how {
				case 0:
					err = st.Set(octx, key(es[0]), es[0], 0)
				case 1:
					m := map[string]any{}
					for _, e := range es {
						m[key(e)] = e
					}
					err = st.SetBatch(octx, m)
				case 2:
					err = foxstore.Update(octx, st, func(tx foxstore.Transaction) error {
						for _, e := range es {
							if err := tx.Set(key(e), e); err != nil {
								return err
							}
						}
						return nil
					})
				}
				ocancel()
				switch classify(err) {
				case ok:
					ack(es...)
				case refused:
					probs.add("add %v: %v", es, err)
				case indeterminate:
					opts.unexpected(&probs, "add", err)
					ind++
				}
				ops++
			}
			mu.Lock()
			stats.Ops += ops
			stats.Indeterminate += ind
			stats.Failed += failed
			mu.Unlock()
		})
	}
	wg.Wait()
	stats.Faults = stopFaults()
	probs.report(r)

	// The final read: every acknowledged element, with its value.
	m, err := st.Find(t.Context(), pattern)
	if err != nil {
		r.Errorf("final Find(%s): %v", pattern, err)
		return stats
	}
	missing := 0
	for _, e := range acked {
		v, found := m[key(e)]
		switch {
		case !found:
			if missing++; missing <= 10 {
				r.Errorf("acknowledged add of %d (key %s) is lost", e, key(e))
			}
		case v != e:
			r.Errorf("key %s holds %v (%T), want %d", key(e), v, v, e)
		}
	}
	if missing > 10 {
		r.Errorf("... %d of %d acknowledged adds are lost in all", missing, len(acked))
	}
	for k := range m {
		e, err := strconv.Atoi(strings.TrimPrefix(k, prefix+"e"))
		if _, sent := attempted.Load(e); err != nil || !sent {
			r.Errorf("final Find returned key %s, which was never added", quote(k))
		}
	}
	if n, err := st.Count(t.Context(), pattern); err != nil || n != len(m) {
		r.Errorf("final Count(%s) = %d, %v; Find returned %d keys", pattern, n, err, len(m))
	}
	r.Logf("set round: %d acknowledged adds, %d keys at the end", len(acked), len(m))
	return stats
}

// setRead lists the elements one of three ways and checks the answer
// against the adds acknowledged before it began.
func setRead(ctx context.Context, st foxstore.StoragePlugin, how int, pattern, prefix string,
	ackedSoFar func() int, ackedList func() []int, attempted *sync.Map, probs *problems) error {
	before := ackedSoFar()
	seen := map[int]bool{}
	var what string
	switch how {
	case 0:
		what = "Keys"
		keys, err := st.Keys(ctx, pattern)
		if err != nil {
			return err
		}
		for _, k := range keys {
			e, err := strconv.Atoi(strings.TrimPrefix(k, prefix+"e"))
			if err != nil {
				probs.add("Keys(%s) returned %s", pattern, quote(k))
				continue
			}
			seen[e] = true
		}
	case 1:
		what = "Find"
		m, err := st.Find(ctx, pattern)
		if err != nil {
			return err
		}
		for k, v := range m {
			e, err := strconv.Atoi(strings.TrimPrefix(k, prefix+"e"))
			if err != nil || v != e {
				probs.add("Find(%s) returned %s = %v", pattern, quote(k), v)
				continue
			}
			seen[e] = true
		}
	case 2:
		n, err := st.Count(ctx, pattern)
		if err != nil {
			return err
		}
		if n < before {
			probs.add("Count(%s) = %d, but %d adds had been acknowledged before it began", pattern, n, before)
		}
		return nil
	}
	for e := range seen {
		if _, sent := attempted.Load(e); !sent {
			probs.add("%s(%s) returned element %d, which was never added", what, pattern, e)
		}
	}
	for _, e := range ackedList()[:before] {
		if !seen[e] {
			probs.add("%s(%s) misses element %d, whose add was acknowledged before the read began", what, pattern, e)
		}
	}
	return nil
}

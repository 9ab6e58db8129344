package torture

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/foxstore/foxstore"
)

// Bank is Jepsen's bank workload. opts.Keys accounts (default 8) start with
// 100 each; opts.Clients goroutines move random amounts between random
// accounts in transactions (foxstore.Update), never below zero, while as many
// readers audit them: a transaction that reads every account and commits
// must see the initial total and no negative balance, whatever the
// interleaving, faults included (a transfer that fails halfway must apply
// nothing). A third kind of client reads single accounts with Get. At the
// end, Find and GetBatch must show the total too.
func Bank(t *testing.T, newStore func(*testing.T) foxstore.StoragePlugin, opts Options) Stats {
	t.Helper()
	return bank(t, t, open(t, newStore), opts)
}

func bank(t *testing.T, r reporter, st foxstore.StoragePlugin, opts Options) Stats {
	r.Helper()
	opts = opts.withDefaults(r, 8)
	const initial = 100
	prefix := prefixed("bank", opts.Seed)
	accounts := make([]string, opts.Keys)
	batch := map[string]any{}
	for i := range accounts {
		accounts[i] = fmt.Sprintf("%sacct:%03d", prefix, i)
		batch[accounts[i]] = initial
	}
	total := initial * len(accounts)
	if err := st.SetBatch(t.Context(), batch); err != nil {
		r.Errorf("SetBatch of the %d accounts: %v", len(accounts), err)
		return Stats{}
	}

	var (
		probs problems
		mu    sync.Mutex
		stats Stats
	)
	count := func(ops, ind, failed int) {
		mu.Lock()
		stats.Ops += ops
		stats.Indeterminate += ind
		stats.Failed += failed
		mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(t.Context(), opts.Duration)
	defer cancel()
	stopFaults := opts.startFaults(ctx, rand.New(rand.NewPCG(opts.Seed, 99)))

	// audit reads every account in one transaction.
	audit := func(octx context.Context, order []int) (balances []int, err error) {
		err = foxstore.Update(octx, st, func(tx foxstore.Transaction) error {
			balances = make([]int, len(accounts))
			for _, i := range order {
				v, err := tx.Get(accounts[i])
				if err != nil {
					return err
				}
				if balances[i], err = intValue(v); err != nil {
					return err
				}
			}
			return nil
		})
		return balances, err
	}

	var wg sync.WaitGroup
	for c := range opts.Clients {
		// Writers.
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(opts.Seed, uint64(c)))
			var ops, ind int
			for ctx.Err() == nil {
				from := rng.IntN(len(accounts))
				to := rng.IntN(len(accounts) - 1)
				if to >= from {
					to++
				}
				amount := 1 + rng.IntN(initial/2)
				octx, ocancel := opts.opCtx(t.Context())
				err := foxstore.Update(octx, st, func(tx foxstore.Transaction) error {
					a, err := readInt(tx, accounts[from])
					if err != nil {
						return err
					}
					b, err := readInt(tx, accounts[to])
					if err != nil {
						return err
					}
					if a < amount {
						return errMismatch
					}
					if err := tx.Set(accounts[from], a-amount); err != nil {
						return err
					}
					return tx.Set(accounts[to], b+amount)
				})
				ocancel()
				switch classify(err) {
				case indeterminate:
					opts.unexpected(&probs, "transfer", err)
					ind++
				case refused:
					if !errors.Is(err, errMismatch) {
						probs.add("transfer: %v", err)
					}
				}
				ops++
			}
			count(ops, ind, 0)
		})
		// Auditors, reading the accounts in a random order each time, so
		// that a store that only keeps reads in one order consistent is
		// caught too.
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(opts.Seed, uint64(1000+c)))
			var ops, failed int
			for ctx.Err() == nil {
				order := rng.Perm(len(accounts))
				octx, ocancel := opts.opCtx(t.Context())
				balances, err := audit(octx, order)
				ocancel()
				if err != nil {
					opts.unexpected(&probs, "audit", err)
					failed++
					continue
				}
				ops++
				sum := 0
				for i, b := range balances {
					sum += b
					if b < 0 {
						probs.add("a committed audit saw %s = %d, below zero", accounts[i], b)
					}
				}
				if sum != total {
					probs.add("a committed audit saw a total of %d, want %d: %v", sum, total, balances)
				}
			}
			count(ops, 0, failed)
		})
	}
	// A plain reader: single reads need not agree with each other, but
	// each must be an int that is not negative.
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(opts.Seed, 2000))
		var ops, failed int
		for ctx.Err() == nil {
			k := accounts[rng.IntN(len(accounts))]
			octx, ocancel := opts.opCtx(t.Context())
			v, err := st.Get(octx, k)
			ocancel()
			if err != nil {
				opts.unexpected(&probs, "get "+k, err)
				failed++
				continue
			}
			ops++
			if n, err := intValue(v); err != nil || n < 0 {
				probs.add("Get(%s) = %v (%v)", k, v, err)
			}
		}
		count(ops, 0, failed)
	})
	wg.Wait()
	stats.Faults = stopFaults()
	stats.Rounds = 1
	probs.report(r)

	// The final state, through three different read paths.
	fctx := t.Context()
	if balances, err := audit(fctx, rng0(len(accounts))); err != nil {
		r.Errorf("final audit: %v", err)
	} else if s := sum(balances); s != total {
		r.Errorf("after the transfers a transaction reads a total of %d, want %d: %v", s, total, balances)
	}
	if m, err := st.Find(fctx, prefix+"acct:*"); err != nil {
		r.Errorf("final Find: %v", err)
	} else {
		checkBalances(r, "Find", m, accounts, total)
	}
	if m, err := st.GetBatch(fctx, accounts); err != nil {
		r.Errorf("final GetBatch: %v", err)
	} else {
		checkBalances(r, "GetBatch", m, accounts, total)
	}
	r.Logf("bank: %v", stats)
	return stats
}

func readInt(tx foxstore.Transaction, key string) (int, error) {
	v, err := tx.Get(key)
	if err != nil {
		return 0, err
	}
	return intValue(v)
}

func rng0(n int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	return order
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func checkBalances(r reporter, op string, m map[string]any, accounts []string, total int) {
	r.Helper()
	s := 0
	for _, k := range accounts {
		v, found := m[k]
		if !found {
			r.Errorf("%s after the transfers: account %s is missing", op, k)
			continue
		}
		n, err := intValue(v)
		if err != nil {
			r.Errorf("%s after the transfers: %s: %v", op, k, err)
		}
		s += n
	}
	if len(m) != len(accounts) {
		r.Errorf("%s after the transfers returned %d accounts, want %d", op, len(m), len(accounts))
	}
	if s != total {
		r.Errorf("%s after the transfers: total %d, want %d", op, s, total)
	}
}

package torture

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/foxstore/foxstore"
)

// Append is the list-append workload of Jepsen's Elle. Each of opts.Keys
// keys (default 5) holds a list of unique integers, stored as a string.
// opts.Clients goroutines run transactions that read one to three keys and
// append a fresh element to some of them (read the list, write it back one
// element longer). At the end:
//
//   - every acknowledged element is in its key's final list, exactly once,
//     and nothing else is there but elements of transactions that failed
//     with an indeterminate error;
//   - every list a committed transaction read is a prefix of the final list;
//   - the graph of committed transactions, with an edge from T1 to T2 when T2
//     read or overwrote what T1 wrote (wr, ww) or overwrote what T1 read
//     (rw), has no cycle. A cycle is a lost update, a write skew, a read of
//     uncommitted or later data: something no serial order explains.
func Append(t *testing.T, newStore func(*testing.T) foxstore.StoragePlugin, opts Options) Stats {
	t.Helper()
	return appendWorkload(t, t, open(t, newStore), opts)
}

// appendTxn is one transaction of the workload, as the client knows it.
type appendTxn struct {
	id    int
	mops  []appendMop
	state outcome // ok: committed; indeterminate: may have
}

// appendMop is a micro-operation: read a key, or append an element to it.
type appendMop struct {
	key    int
	append int   // the element appended; 0 for a read
	read   []int // the list read
}

func (tx *appendTxn) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "T%d[", tx.id)
	for i, m := range tx.mops {
		if i > 0 {
			b.WriteString(" ")
		}
		if m.append != 0 {
			fmt.Fprintf(&b, "append(k%d, %d)", m.key, m.append)
		} else {
			fmt.Fprintf(&b, "read(k%d)=%v", m.key, shortList(m.read))
		}
	}
	b.WriteString("]")
	return b.String()
}

func shortList(l []int) string {
	if len(l) <= 6 {
		return fmt.Sprint(l)
	}
	return fmt.Sprintf("[%d %d ... %d %d (%d elements)]", l[0], l[1], l[len(l)-2], l[len(l)-1], len(l))
}

func encodeList(l []int) string {
	var b strings.Builder
	for i, x := range l {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(x))
	}
	return b.String()
}

func decodeList(v any) ([]int, error) {
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("read %T, want the string that was stored", v)
	}
	var out []int
	for f := range strings.FieldsSeq(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("list %q: %v", s, err)
		}
		out = append(out, n)
	}
	return out, nil
}

func appendWorkload(t *testing.T, r reporter, st foxstore.StoragePlugin, opts Options) Stats {
	r.Helper()
	opts = opts.withDefaults(r, 5)
	return inRounds(r, opts, "append", func(opts Options, prefix string) Stats {
		return appendRound(t, r, st, opts, prefix)
	})
}

func appendRound(t *testing.T, r reporter, st foxstore.StoragePlugin, opts Options, prefix string) Stats {
	r.Helper()
	keyName := func(k int) string { return fmt.Sprintf("%sk%d", prefix, k) }

	var (
		probs  problems
		mu     sync.Mutex
		txns   []*appendTxn
		stats  Stats
		nextID atomic.Int64
		nextEl atomic.Int64
	)
	ctx, cancel := context.WithTimeout(t.Context(), opts.Duration)
	defer cancel()
	stopFaults := opts.startFaults(ctx, rand.New(rand.NewPCG(opts.Seed, 99)))

	var wg sync.WaitGroup
	for c := range opts.Clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(opts.Seed, uint64(c)))
			var mine []*appendTxn
			var nfailed int
			for ctx.Err() == nil {
				// Plan: 1 to 3 distinct keys, each read, and appended to
				// with probability 1/2 (after the read).
				nk := 1 + rng.IntN(min(3, opts.Keys))
				plan := rng.Perm(opts.Keys)[:nk]
				var appends []int
				for range plan {
					if rng.IntN(2) == 0 {
						appends = append(appends, int(nextEl.Add(1)))
					} else {
						appends = append(appends, 0)
					}
				}
				tx := &appendTxn{id: int(nextID.Add(1))}
				octx, ocancel := opts.opCtx(t.Context())
				err := foxstore.Update(octx, st, func(ftx foxstore.Transaction) error {
					// fn may run again after a conflict: only the last
					// run's reads count.
					tx.mops = tx.mops[:0]
					for i, k := range plan {
						list, err := readList(ftx, keyName(k))
						if err != nil {
							return err
						}
						tx.mops = append(tx.mops, appendMop{key: k, read: list})
						if e := appends[i]; e != 0 {
							if err := ftx.Set(keyName(k), encodeList(append(slices.Clip(list), e))); err != nil {
								return err
							}
							tx.mops = append(tx.mops, appendMop{key: k, append: e})
						}
					}
					return nil
				})
				ocancel()
				tx.state = classify(err)
				switch tx.state {
				case refused:
					probs.add("transaction %v: %v", tx, err)
					continue
				case indeterminate:
					opts.unexpected(&probs, "transaction", err)
					// What it read is unknown (and uncommitted): keep only
					// its appends, which may be in the lists.
					tx.mops = tx.mops[:0]
					for i, k := range plan {
						if appends[i] != 0 {
							tx.mops = append(tx.mops, appendMop{key: k, append: appends[i]})
						}
					}
					if len(tx.mops) == 0 {
						nfailed++
						continue
					}
				}
				mine = append(mine, tx)
			}
			mu.Lock()
			txns = append(txns, mine...)
			stats.Failed += nfailed
			mu.Unlock()
		})
	}
	wg.Wait()
	stats.Faults = stopFaults()
	for _, tx := range txns {
		stats.Ops++
		if tx.state == indeterminate {
			stats.Indeterminate++
		}
	}
	probs.report(r)

	// The final lists, read in one transaction.
	final := make([][]int, opts.Keys)
	err := foxstore.Update(t.Context(), st, func(ftx foxstore.Transaction) error {
		for k := range final {
			l, err := readList(ftx, keyName(k))
			if err != nil {
				return err
			}
			final[k] = l
		}
		return nil
	})
	if err != nil {
		r.Errorf("reading the final lists: %v", err)
		return stats
	}
	for _, p := range checkAppend(txns, final) {
		r.Errorf("%s", p)
	}
	n := 0
	for _, l := range final {
		n += len(l)
	}
	r.Logf("append round: %d transactions, %d elements in the final lists", stats.Ops, n)
	return stats
}

func readList(tx foxstore.Transaction, key string) ([]int, error) {
	v, err := tx.Get(key)
	if errors.Is(err, foxstore.ErrStorageNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeList(v)
}

// checkAppend checks the transactions of an append run against the final
// lists and returns what is wrong, at most a screenful.
func checkAppend(txns []*appendTxn, final [][]int) []string {
	var out []string
	add := func(format string, args ...any) {
		if len(out) < maxProblems {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}

	// Who appended what.
	type origin struct {
		tx  *appendTxn
		key int
	}
	writer := map[int]origin{}
	for _, tx := range txns {
		for _, m := range tx.mops {
			if m.append != 0 {
				writer[m.append] = origin{tx, m.key}
			}
		}
	}

	// Final lists: no duplicate, nothing unknown, nothing in the wrong key,
	// every acknowledged element present.
	pos := make([]map[int]int, len(final)) // element → index, per key
	for k, l := range final {
		pos[k] = make(map[int]int, len(l))
		for i, e := range l {
			if j, dup := pos[k][e]; dup {
				add("key k%d: element %d appears twice in the final list (at %d and %d)", k, e, j, i)
				continue
			}
			pos[k][e] = i
			o, known := writer[e]
			switch {
			case !known:
				add("key k%d: element %d in the final list was never appended by a committed or indeterminate transaction", k, e)
			case o.key != k:
				add("key k%d: element %d in the final list was appended to k%d", k, e, o.key)
			}
		}
	}
	for e, o := range writer {
		if _, there := pos[o.key][e]; !there && o.tx.state == ok {
			add("acknowledged element %d of %v is missing from the final list of k%d (%s)", e, o.tx, o.key, shortList(final[o.key]))
		}
	}
	if len(out) > 0 {
		return out
	}

	// Reads: each a prefix of the final list; a read followed by an append
	// in the same transaction must be followed by that append, immediately.
	for _, tx := range txns {
		if tx.state != ok {
			continue
		}
		for i, m := range tx.mops {
			if m.append != 0 {
				continue
			}
			f := final[m.key]
			if len(m.read) > len(f) || !slices.Equal(m.read, f[:len(m.read)]) {
				add("%v read k%d = %s, which is not a prefix of the final list %s", tx, m.key, shortList(m.read), shortList(f))
				continue
			}
			if i+1 < len(tx.mops) && tx.mops[i+1].append != 0 && tx.mops[i+1].key == m.key {
				e := tx.mops[i+1].append
				if len(m.read) >= len(f) || f[len(m.read)] != e {
					got := "nothing"
					if len(m.read) < len(f) {
						got = strconv.Itoa(f[len(m.read)])
					}
					add("lost update: %v read %d elements of k%d and appended %d, but element %d of the final list is %s",
						tx, len(m.read), m.key, e, len(m.read), got)
				}
			}
		}
	}
	if len(out) > 0 {
		return out
	}

	// The dependency graph of the committed transactions.
	edges := map[*appendTxn]map[*appendTxn]string{}
	edge := func(from, to *appendTxn, why string) {
		if from == to {
			return
		}
		if edges[from] == nil {
			edges[from] = map[*appendTxn]string{}
		}
		if _, seen := edges[from][to]; !seen {
			edges[from][to] = why
		}
	}
	for k, l := range final {
		for i := 1; i < len(l); i++ {
			edge(writer[l[i-1]].tx, writer[l[i]].tx, fmt.Sprintf("ww on k%d", k))
		}
	}
	for _, tx := range txns {
		if tx.state != ok {
			continue
		}
		for _, m := range tx.mops {
			if m.append != 0 {
				continue
			}
			f := final[m.key]
			if n := len(m.read); n > 0 {
				edge(writer[m.read[n-1]].tx, tx, fmt.Sprintf("wr on k%d", m.key))
			}
			if n := len(m.read); n < len(f) {
				edge(tx, writer[f[n]].tx, fmt.Sprintf("rw on k%d", m.key))
			}
		}
	}
	if cycle := findCycle(txns, edges); cycle != nil {
		var b strings.Builder
		b.WriteString("the committed transactions are not serializable, they form a cycle:")
		for i, tx := range cycle {
			next := cycle[(i+1)%len(cycle)]
			fmt.Fprintf(&b, "\n\t%v\n\t  -- %s -->", tx, edges[tx][next])
		}
		fmt.Fprintf(&b, " T%d", cycle[0].id)
		add("%s", b.String())
	}
	return out
}

// findCycle returns one cycle of the graph, or nil. Iterative, because a
// long run has tens of thousands of transactions in a chain.
func findCycle(nodes []*appendTxn, edges map[*appendTxn]map[*appendTxn]string) []*appendTxn {
	const (
		white = iota
		grey
		black
	)
	color := map[*appendTxn]int{}
	parent := map[*appendTxn]*appendTxn{}
	type frame struct {
		n    *appendTxn
		next []*appendTxn
	}
	succ := func(n *appendTxn) []*appendTxn {
		out := make([]*appendTxn, 0, len(edges[n]))
		for m := range edges[n] {
			out = append(out, m)
		}
		// Deterministic order, for repeatable reports.
		slices.SortFunc(out, func(a, b *appendTxn) int { return a.id - b.id })
		return out
	}
	for _, root := range nodes {
		if color[root] != white {
			continue
		}
		color[root] = grey
		stack := []frame{{root, succ(root)}}
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if len(top.next) == 0 {
				color[top.n] = black
				stack = stack[:len(stack)-1]
				continue
			}
			m := top.next[0]
			top.next = top.next[1:]
			switch color[m] {
			case white:
				color[m] = grey
				parent[m] = top.n
				stack = append(stack, frame{m, succ(m)})
			case grey:
				// m is on the stack: the cycle is m ... top.n.
				cycle := []*appendTxn{top.n}
				for n := top.n; n != m; {
					n = parent[n]
					cycle = append(cycle, n)
				}
				slices.Reverse(cycle)
				return cycle
			}
		}
	}
	return nil
}

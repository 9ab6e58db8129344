package torture

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/foxstore/foxstore"
)

// linKind is the kind of an operation of the linearizability workload.
type linKind uint8

const (
	linGet    linKind = iota // st.Get
	linExists                // st.Exists
	linTxGet                 // a read-only transaction that reads the key and commits
	linSet                   // st.Set without TTL
	linDelete                // st.Delete
	linCAS                   // foxstore.Update: read, compare, set
)

var linNames = [...]string{"get", "exists", "tx-get", "set", "delete", "cas"}

// linInput is what a client asked. Values are positive ints, each written
// once, so that a read names the write it saw; 0 stands for "no value".
type linInput struct {
	Kind linKind
	Key  string
	Val  int // set: the value; cas: the new value
	Want int // cas: the value expected (0: the key must be absent)
}

// linOutput is what the client saw.
type linOutput struct {
	Val     int  // get, tx-get: the value read (0: not found); exists: 1 if found
	OK      bool // cas: swapped
	Unknown bool // a write that failed: it may or may not have happened
}

// linModel is a register per key, the sequential specification the history
// must match. The history is split by key (operations on different keys
// commute), which keeps the check fast.
var linModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var order []string
		for _, op := range h {
			k := op.Input.(linInput).Key
			if _, seen := byKey[k]; !seen {
				order = append(order, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(order))
		for _, k := range order {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return 0 },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(int), input.(linInput), output.(linOutput)
		switch in.Kind {
		case linGet, linTxGet:
			return out.Val == st, st
		case linExists:
			return (out.Val == 1) == (st != 0), st
		case linSet:
			return true, in.Val
		case linDelete:
			return true, 0
		case linCAS:
			switch {
			case out.Unknown:
				// An indeterminate operation returns "at the end of time",
				// so the checker may also place it after everything else,
				// where it is as good as never having happened.
				if st == in.Want {
					return true, in.Val
				}
				return true, st
			case out.OK:
				return st == in.Want, in.Val
			default:
				return st != in.Want, st
			}
		}
		return false, st
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		var s string
		switch in.Kind {
		case linGet, linTxGet, linExists:
			s = fmt.Sprintf("%s(%s) -> %s", linNames[in.Kind], in.Key, describeVal(out.Val))
		case linSet:
			s = fmt.Sprintf("set(%s, %d)", in.Key, in.Val)
		case linDelete:
			s = fmt.Sprintf("delete(%s)", in.Key)
		case linCAS:
			s = fmt.Sprintf("cas(%s, %s -> %d) -> %v", in.Key, describeVal(in.Want), in.Val, out.OK)
		}
		if out.Unknown {
			s += " (failed: indeterminate)"
		}
		return s
	},
	DescribeState: func(state any) string { return describeVal(state.(int)) },
}

func describeVal(v int) string {
	if v == 0 {
		return "none"
	}
	return fmt.Sprint(v)
}

// Linearizable runs Get, Exists, Set, Delete, read-only transactions and
// compare-and-set transactions from opts.Clients goroutines on opts.Keys
// keys (default 4) and checks that the history is linearizable: every
// operation appears to take effect at one instant between its call and its
// return. Transactions must be serializable and single operations must see
// every write that returned before they began, so a linearizable history is
// what the contract promises for these operations on one store.
//
// The workload runs in rounds on fresh keys, each checked separately; a
// round that is not linearizable fails the test and its visualization (an
// HTML file) is written to the temporary directory and named in the error.
func Linearizable(t *testing.T, newStore func(*testing.T) foxstore.StoragePlugin, opts Options) Stats {
	t.Helper()
	return linearizable(t, t, open(t, newStore), opts)
}

func linearizable(t *testing.T, r reporter, st foxstore.StoragePlugin, opts Options) Stats {
	r.Helper()
	opts = opts.withDefaults(r, 4)
	rng := rand.New(rand.NewPCG(opts.Seed, 1))
	prefix := prefixed("lin", opts.Seed)

	// A round is long enough to find interleavings, short enough that its
	// history checks quickly.
	const roundOps = 6000
	roundTime := min(opts.Duration, 5*time.Second)

	var stats Stats
	end := time.Now().Add(opts.Duration)
	for round := 0; round == 0 || time.Now().Before(end); round++ {
		if r.Failed() {
			break
		}
		left := time.Until(end)
		d := min(roundTime, max(left, 0))
		keys := make([]string, opts.Keys)
		for i := range keys {
			keys[i] = fmt.Sprintf("%sr%d:k%d", prefix, round, i)
		}
		h, rs := linRound(t, r, st, opts, rng.Uint64(), keys, d, roundOps)
		stats.Ops += rs.Ops
		stats.Indeterminate += rs.Indeterminate
		stats.Failed += rs.Failed
		stats.Faults += rs.Faults
		stats.Rounds++
		checkLinearizable(r, h, round)
	}
	r.Logf("linearizability: %v", stats)
	return stats
}

// linRound runs one round and returns its history.
func linRound(t *testing.T, r reporter, st foxstore.StoragePlugin, opts Options, seed uint64, keys []string, d time.Duration, maxOps int) ([]porcupine.Operation, Stats) {
	var (
		probs   problems
		stats   Stats
		mu      sync.Mutex
		history []porcupine.Operation
		next    atomic.Int64 // last value handed out
		issued  atomic.Int64
		pending []int // indices in history of indeterminate operations
	)
	base := time.Now()
	now := func() int64 { return int64(time.Since(base)) }
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	stopFaults := opts.startFaults(ctx, rand.New(rand.NewPCG(seed, 99)))

	var wg sync.WaitGroup
	for c := range opts.Clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			// last is what this client last saw under each key: a good
			// guess for a compare-and-set to succeed.
			last := map[string]int{}
			var ops []porcupine.Operation
			var unknown []int
			var nops, nind, nfail int
			for ctx.Err() == nil && issued.Add(1) <= int64(maxOps) {
				key := keys[rng.IntN(len(keys))]
				in := linInput{Key: key}
				switch r := rng.IntN(100); {
				case r < 25:
					in.Kind = linGet
				case r < 30:
					in.Kind = linExists
				case r < 35:
					in.Kind = linTxGet
				case r < 60:
					in.Kind = linSet
				case r < 70:
					in.Kind = linDelete
				default:
					in.Kind = linCAS
					in.Want = last[key]
					if rng.IntN(8) == 0 {
						in.Want = 0
					}
				}
				if in.Kind == linExists && opts.faulty() {
					// Exists reads any error as false, which would look
					// like an absent key.
					in.Kind = linGet
				}
				if in.Kind == linSet || in.Kind == linCAS {
					in.Val = int(next.Add(1))
				}
				// Operations use their own context: the round's context
				// only stops new operations from starting.
				octx, ocancel := opts.opCtx(t.Context())
				call := now()
				out, err := linDo(octx, st, in)
				ret := now()
				ocancel()
				if err != nil {
					if in.Kind <= linTxGet {
						// A failed read tells nothing: leave it out.
						nfail++
						opts.unexpected(&probs, linNames[in.Kind]+" "+key, err)
						continue
					}
					switch classify(err) {
					case refused:
						if !errors.Is(err, errMismatch) {
							probs.add("%s %s: %v", linNames[in.Kind], key, err)
							continue
						}
					case indeterminate:
						opts.unexpected(&probs, linNames[in.Kind]+" "+key, err)
						out = linOutput{Unknown: true}
						unknown = append(unknown, len(ops))
						nind++
					}
				}
				switch {
				case in.Kind == linGet || in.Kind == linTxGet:
					last[key] = out.Val
				case in.Kind == linSet || (in.Kind == linCAS && out.OK):
					last[key] = in.Val
				case in.Kind == linDelete:
					last[key] = 0
				}
				ops = append(ops, porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret})
				nops++
			}
			mu.Lock()
			for _, i := range unknown {
				pending = append(pending, len(history)+i)
			}
			history = append(history, ops...)
			stats.Ops += nops
			stats.Indeterminate += nind
			stats.Failed += nfail
			mu.Unlock()
		})
	}
	wg.Wait()
	stats.Faults = stopFaults()
	// Indeterminate operations may take effect at any time after their
	// call: give them a return after everything else.
	endOfTime := now() + 1
	for _, i := range pending {
		history[i].Return = endOfTime
	}
	probs.report(r)
	return history, stats
}

// linDo performs one operation.
func linDo(ctx context.Context, st foxstore.StoragePlugin, in linInput) (linOutput, error) {
	var out linOutput
	switch in.Kind {
	case linGet:
		v, err := st.Get(ctx, in.Key)
		if errors.Is(err, foxstore.ErrStorageNotFound) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out.Val, err = intValue(v)
		return out, err
	case linExists:
		if st.Exists(ctx, in.Key) {
			out.Val = 1
		}
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		return out, nil
	case linTxGet:
		err := foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
			out.Val = 0
			v, err := tx.Get(in.Key)
			if errors.Is(err, foxstore.ErrStorageNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			out.Val, err = intValue(v)
			return err
		})
		return out, err
	case linSet:
		return out, st.Set(ctx, in.Key, in.Val, 0)
	case linDelete:
		return out, st.Delete(ctx, in.Key)
	case linCAS:
		err := foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
			v, err := tx.Get(in.Key)
			cur := 0
			switch {
			case errors.Is(err, foxstore.ErrStorageNotFound):
			case err != nil:
				return err
			default:
				if cur, err = intValue(v); err != nil {
					return err
				}
			}
			if cur != in.Want {
				return errMismatch
			}
			return tx.Set(in.Key, in.Val)
		})
		out.OK = err == nil
		return out, err
	}
	panic("unknown operation")
}

// intValue checks that v is an int, as the contract promises for a stored
// int, and returns it.
func intValue(v any) (int, error) {
	n, ok := v.(int)
	if !ok {
		return 0, fmt.Errorf("read %T %v, want the int that was stored", v, v)
	}
	return n, nil
}

// checkTimeout bounds the search of one history; a search that times out
// proves nothing either way and is reported as such.
var checkTimeout = 2 * time.Minute

// vizDir is where visualizations go ("": the system's temporary directory,
// which outlives the test).
var vizDir = ""

// checkLinearizable checks a history and, if it is not linearizable, writes
// porcupine's visualization and fails the test naming it.
func checkLinearizable(t reporter, h []porcupine.Operation, round int) {
	t.Helper()
	if Long() {
		checkTimeout = 10 * time.Minute
	}
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(linModel, h, checkTimeout)
	t.Logf("round %d: checked %d operations in %v: %s", round, len(h), time.Since(start).Round(time.Millisecond), res)
	switch res {
	case porcupine.Ok:
		return
	case porcupine.Unknown:
		t.Logf("round %d: the linearizability check of %d operations timed out after %v: not proven either way", round, len(h), checkTimeout)
		return
	}
	f, err := os.CreateTemp(vizDir, "foxstore-linearizability-*.html")
	if err != nil {
		t.Errorf("round %d: history of %d operations is NOT linearizable (could not write the visualization: %v)", round, len(h), err)
		return
	}
	defer f.Close()
	if err := porcupine.Visualize(linModel, info, f); err != nil {
		t.Errorf("round %d: history of %d operations is NOT linearizable (visualization failed: %v)", round, len(h), err)
		return
	}
	t.Errorf("round %d: history of %d operations is NOT linearizable; open %s in a browser to see where.%s", round, len(h), f.Name(), explain(h))
}

// explain finds the key whose history is not linearizable and describes
// where the checker got stuck: the last operations it could place, and the
// ones it could not place next.
func explain(h []porcupine.Operation) string {
	base := h[0].Call
	for _, op := range h {
		base = min(base, op.Call)
	}
	describe := func(op porcupine.Operation) string {
		ret := fmt.Sprintf("%.3fms", float64(op.Return-base)/1e6)
		if op.Output.(linOutput).Unknown {
			ret = "never"
		}
		return fmt.Sprintf("client %d, called %.3fms, returned %s: %s", op.ClientId,
			float64(op.Call-base)/1e6, ret, linModel.DescribeOperation(op.Input, op.Output))
	}
	for _, part := range linModel.Partition(h) {
		res, info := porcupine.CheckOperationsVerbose(linModel, part, time.Minute)
		if res != porcupine.Illegal {
			continue
		}
		var longest []porcupine.Operation
		for _, p := range info.PartialLinearizationsOperations() {
			for _, l := range p {
				if len(l) > len(longest) {
					longest = l
				}
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "\nkey %s: %d of its %d operations can be placed in order; the last ones placed:",
			part[0].Input.(linInput).Key, len(longest), len(part))
		var state any = 0
		for _, op := range longest {
			_, state = linModel.Step(state, op.Input, op.Output)
		}
		for _, op := range longest[max(0, len(longest)-5):] {
			b.WriteString("\n\t" + describe(op))
		}
		fmt.Fprintf(&b, "\nthe value is then %s, and none of these can come next:", describeVal(state.(int)))
		placed := map[porcupine.Operation]bool{}
		for _, op := range longest {
			placed[op] = true
		}
		var rest []porcupine.Operation
		for _, op := range part {
			if !placed[op] {
				rest = append(rest, op)
			}
		}
		slices.SortFunc(rest, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
		for _, op := range rest[:min(len(rest), 8)] {
			b.WriteString("\n\t" + describe(op))
		}
		return b.String()
	}
	return ""
}

package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foxstore/foxstore"
)

// BenchOptions shape the benchmark workload.
type BenchOptions struct {
	Duration  time.Duration // how long to run; 2s when both it and Ops are 0
	Ops       int           // stop after this many operations (0: no limit)
	Workers   int           // concurrent clients; 4 when 0
	Keys      int           // keys loaded before the run; 10000 when 0
	ValueSize int           // bytes per value; 256 when 0
	Batch     int           // keys per batch operation; 50 when 0
	Seed      uint64        // random seed; from the clock when 0
}

func (o *BenchOptions) defaults() {
	if o.Duration <= 0 && o.Ops <= 0 {
		o.Duration = 2 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Keys <= 0 {
		o.Keys = 10000
	}
	if o.ValueSize <= 0 {
		o.ValueSize = 256
	}
	if o.Batch <= 0 {
		o.Batch = 50
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
}

// OpResult is the measurement of one kind of operation.
type OpResult struct {
	Op        string        `json:"op"`
	Count     int           `json:"count"`
	Errors    int           `json:"errors"`
	OpsPerSec float64       `json:"ops_per_sec"`
	P50       time.Duration `json:"p50_ns"`
	P99       time.Duration `json:"p99_ns"`
}

// BenchResult is the outcome of Bench.
type BenchResult struct {
	Workers   int           `json:"workers"`
	Keys      int           `json:"keys"`
	ValueSize int           `json:"value_size"`
	Batch     int           `json:"batch"`
	Seed      uint64        `json:"seed"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	Ops       []OpResult    `json:"ops"`
	Total     OpResult      `json:"total"`
	// FirstError is the first unexpected error, if any operation failed.
	FirstError string `json:"first_error,omitempty"`
	// CleanupError says why the bench keys could not all be deleted.
	CleanupError string `json:"cleanup_error,omitempty"`
}

// benchOp is one kind of operation of the mix, with its share of it.
type benchOp struct {
	name   string
	weight int
	run    func(ctx context.Context, s foxstore.StoragePlugin, w *benchWorker) error
}

type benchWorker struct {
	rng   *mrand.Rand
	opt   *BenchOptions
	value string
	lat   [][]time.Duration // per op
	errs  []int
	first error
}

func (w *benchWorker) key() string { return benchKey(w.rng.IntN(w.opt.Keys)) }

// benchKey spreads keys over 100 groups so that "g:NN:*" is a pattern query
// over about a hundredth of the keys.
func benchKey(i int) string { return fmt.Sprintf("g:%02d:%07d", i%100, i) }

func (w *benchWorker) keys() []string {
	ks := make([]string, w.opt.Batch)
	for i := range ks {
		ks[i] = w.key()
	}
	return ks
}

var benchMix = []benchOp{
	{"get", 40, func(ctx context.Context, s foxstore.StoragePlugin, w *benchWorker) error {
		_, err := s.Get(ctx, w.key())
		if errors.Is(err, foxstore.ErrStorageNotFound) {
			return nil // deleted by another worker: still a read
		}
		return err
	}},
	{"set", 15, func(ctx context.Context, s foxstore.StoragePlugin, w *benchWorker) error {
		return s.Set(ctx, w.key(), w.value, 0)
	}},
	{"set-ttl", 5, func(ctx context.Context, s foxstore.StoragePlugin, w *benchWorker) error {
		return s.Set(ctx, w.key(), w.value, time.Hour)
	}},
	{"exists", 5, func(ctx context.Context, s foxstore.StoragePlugin, w *benchWorker) error {
		s.Exists(ctx, w.key())
		return nil
	}},
	{"delete", 5, func(ctx context.Context, s foxstore.StoragePlugin, w *benchWorker) error {
		return s.Delete(ctx, w.key())
	}},
	{"get-batch", 10, func(ctx context.Context, s foxstore.StoragePlugin, w *benchWorker) error {
		_, err := s.GetBatch(ctx, w.keys())
		return err
	}},
	{"set-batch", 5, func(ctx context.Context, s foxstore.StoragePlugin, w *benchWorker) error {
		m := make(map[string]any, w.opt.Batch)
		for _, k := range w.keys() {
			m[k] = w.value
		}
		return s.SetBatch(ctx, m)
	}},
	{"find", 5, func(ctx context.Context, s foxstore.StoragePlugin, w *benchWorker) error {
		_, err := s.Find(ctx, fmt.Sprintf("g:%02d:*", w.rng.IntN(100)))
		return err
	}},
	{"count", 5, func(ctx context.Context, s foxstore.StoragePlugin, w *benchWorker) error {
		_, err := s.Count(ctx, fmt.Sprintf("g:%02d:*", w.rng.IntN(100)))
		return err
	}},
	{"keys", 5, func(ctx context.Context, s foxstore.StoragePlugin, w *benchWorker) error {
		_, err := s.Keys(ctx, fmt.Sprintf("g:%02d:1*", w.rng.IntN(100)))
		return err
	}},
}

// Bench runs a mixed workload against s: point reads and writes, batches and
// pattern queries, from several goroutines. It works in a namespace of its
// own, so it never sees or changes the store's other keys, and deletes
// everything it wrote before returning. loaded, if set, is called once the
// keys are in place and the timed run begins.
func Bench(ctx context.Context, base foxstore.StoragePlugin, opt BenchOptions, loaded func()) (res *BenchResult, err error) {
	opt.defaults()
	var tag [6]byte
	_, _ = rand.Read(tag[:])
	ns := "foxstore-bench-" + hex.EncodeToString(tag[:])
	s := foxstore.WithNamespace(base, ns)
	defer func() {
		if cerr := cleanup(context.WithoutCancel(ctx), s); cerr != nil {
			msg := fmt.Sprintf("could not delete every key of namespace %q: %v", ns, cerr)
			if res != nil {
				res.CleanupError = msg
			} else if err == nil {
				err = errors.New("bench: " + msg)
			}
		}
	}()

	value := strings.Repeat("x", opt.ValueSize)
	const loadChunk = 500
	for i := 0; i < opt.Keys; i += loadChunk {
		m := make(map[string]any, loadChunk)
		for j := i; j < min(i+loadChunk, opt.Keys); j++ {
			m[benchKey(j)] = value
		}
		if err := s.SetBatch(ctx, m); err != nil {
			return nil, fmt.Errorf("bench: loading keys: %w", err)
		}
	}
	if loaded != nil {
		loaded()
	}

	total := 0
	for _, op := range benchMix {
		total += op.weight
	}
	runCtx := ctx
	if opt.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, opt.Duration)
		defer cancel()
	}
	var issued atomic.Int64
	workers := make([]*benchWorker, opt.Workers)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		w := &benchWorker{
			rng:   mrand.New(mrand.NewPCG(opt.Seed, uint64(i))),
			opt:   &opt,
			value: value,
			lat:   make([][]time.Duration, len(benchMix)),
			errs:  make([]int, len(benchMix)),
		}
		workers[i] = w
		wg.Go(func() {
			for runCtx.Err() == nil {
				if opt.Ops > 0 && issued.Add(1) > int64(opt.Ops) {
					return
				}
				n := w.rng.IntN(total)
				k := 0
				for n >= benchMix[k].weight {
					n -= benchMix[k].weight
					k++
				}
				t0 := time.Now()
				err := benchMix[k].run(runCtx, s, w)
				d := time.Since(t0)
				if err != nil {
					if runCtx.Err() != nil {
						return // the clock ran out mid-operation: not a failure
					}
					w.errs[k]++
					if w.first == nil {
						w.first = fmt.Errorf("%s: %w", benchMix[k].name, err)
					}
					continue
				}
				w.lat[k] = append(w.lat[k], d)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	res = &BenchResult{Workers: opt.Workers, Keys: opt.Keys, ValueSize: opt.ValueSize, Batch: opt.Batch, Seed: opt.Seed, Elapsed: elapsed}
	var all []time.Duration
	for k, op := range benchMix {
		var lat []time.Duration
		r := OpResult{Op: op.name}
		for _, w := range workers {
			lat = append(lat, w.lat[k]...)
			r.Errors += w.errs[k]
		}
		r.Count = len(lat)
		fill(&r, lat, elapsed)
		res.Ops = append(res.Ops, r)
		all = append(all, lat...)
		res.Total.Errors += r.Errors
	}
	res.Total.Op = "total"
	res.Total.Count = len(all)
	fill(&res.Total, all, elapsed)
	for _, w := range workers {
		if w.first != nil {
			res.FirstError = w.first.Error()
			break
		}
	}
	if res.Total.Count == 0 && res.FirstError != "" {
		return res, fmt.Errorf("bench: every operation failed; the first: %s", res.FirstError)
	}
	return res, nil
}

func fill(r *OpResult, lat []time.Duration, elapsed time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	r.P50 = lat[(len(lat)-1)*50/100]
	r.P99 = lat[(len(lat)-1)*99/100]
	if elapsed > 0 {
		r.OpsPerSec = float64(len(lat)) / elapsed.Seconds()
	}
}

// cleanup deletes every key of the bench namespace.
func cleanup(ctx context.Context, s foxstore.StoragePlugin) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	keys, err := s.Keys(ctx, "*")
	if err != nil {
		return err
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := s.DeleteBatch(ctx, keys[:n]); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

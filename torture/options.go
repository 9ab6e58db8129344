package torture

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

// Flags of the long runs. They are registered by this package, so they exist
// in every test binary that imports it.
var (
	longRun      = flag.Bool("torture", false, "run the long versions of the torture workloads")
	longDuration = flag.Duration("torture.duration", time.Minute, "with -torture: how long each workload runs")
	flagSeed     = flag.Uint64("torture.seed", 0, "seed of the randomized workloads (0: a fresh one, logged)")
	flagKills    = flag.Int("torture.kills", 50, "with -torture: how many times Kill kills the writer process")
)

// Long reports whether the long versions were asked for (-torture).
func Long() bool { return *longRun }

// shortDuration is how long a workload runs by default: enough for thousands
// of operations on the memory backend under -race, and for hundreds on a
// database, while keeping the whole package within seconds per backend.
const shortDuration = 400 * time.Millisecond

// Options tune a workload. The zero value is the default of each workload.
type Options struct {
	// Duration is how long the workload issues operations. Zero means a
	// short run, or -torture.duration with -torture.
	Duration time.Duration

	// Clients is the number of goroutines issuing operations (default 8).
	Clients int

	// Keys is the number of keys the workload spreads over (each workload
	// has its own default). Few keys mean more contention.
	Keys int

	// Seed makes the random choices repeatable. Zero means -torture.seed,
	// or a fresh seed, which is logged.
	Seed uint64

	// Fault, if not nil, is called at random moments while the workload runs
	// (on average every FaultEvery, default 100ms) to inject a fault, such as
	// Proxy.Cut. Operations may then fail: reads that fail are dropped from
	// the history and writes that fail are indeterminate. Without Fault, any
	// error an operation returns fails the test.
	Fault      func()
	FaultEvery time.Duration

	// OpTimeout bounds each operation (default 30s), so that a connection
	// that hangs cannot hang the test.
	OpTimeout time.Duration
}

// Stats are the figures of one workload run, for reports.
type Stats struct {
	Ops           int // operations whose outcome was checked
	Indeterminate int // writes that failed and may or may not have happened
	Failed        int // reads that failed (dropped from the history)
	Faults        int // faults injected
	Rounds        int // histories checked separately
}

func (s Stats) String() string {
	return fmt.Sprintf("%d operations checked (%d indeterminate, %d failed reads) in %d rounds, %d faults injected",
		s.Ops, s.Indeterminate, s.Failed, s.Rounds, s.Faults)
}

func (o Options) withDefaults(t reporter, keys int) Options {
	t.Helper()
	if o.Duration <= 0 {
		o.Duration = shortDuration
		if Long() {
			o.Duration = *longDuration
		}
	}
	if o.Clients <= 0 {
		o.Clients = 8
	}
	if o.Keys <= 0 {
		o.Keys = keys
	}
	if o.Seed == 0 {
		o.Seed = *flagSeed
	}
	if o.Seed == 0 {
		o.Seed = rand.Uint64()
	}
	if o.FaultEvery <= 0 {
		o.FaultEvery = 100 * time.Millisecond
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 30 * time.Second
	}
	keyInfo := ""
	if o.Keys > 0 {
		keyInfo = fmt.Sprintf(", %d keys", o.Keys)
	}
	t.Logf("seed %d (-torture.seed=%d replays the random choices), %d clients%s, %v",
		o.Seed, o.Seed, o.Clients, keyInfo, o.Duration)
	return o
}

// faulty reports whether errors are expected.
func (o Options) faulty() bool { return o.Fault != nil }

// startFaults calls o.Fault at random moments until ctx ends, and returns a
// function that stops it and returns the number of faults injected.
func (o Options) startFaults(ctx context.Context, rng *rand.Rand) (stop func() int) {
	if o.Fault == nil {
		return func() int { return 0 }
	}
	ctx, cancel := context.WithCancel(ctx)
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			// Exponential gaps: faults come at random moments, sometimes in
			// quick succession, sometimes after a long quiet spell.
			d := time.Duration(rng.ExpFloat64() * float64(o.FaultEvery))
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
			o.Fault()
			n.Add(1)
		}
	}()
	return func() int {
		cancel()
		<-done
		return int(n.Load())
	}
}

// reporter is the part of testing.TB the checks report through: the
// package's own tests hand the workloads a recorder instead, to prove that
// the checks fail on stores that break the contract.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
	Failed() bool
}

// problems collects what goroutines find, to report from the test goroutine,
// keeping the first few messages of each kind.
type problems struct {
	mu    sync.Mutex
	msgs  []string
	count int
}

const maxProblems = 20

func (p *problems) add(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count++
	if len(p.msgs) < maxProblems {
		p.msgs = append(p.msgs, fmt.Sprintf(format, args...))
	}
}

func (p *problems) report(t reporter) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.msgs {
		t.Errorf("%s", m)
	}
	if p.count > len(p.msgs) {
		t.Errorf("... and %d more problems", p.count-len(p.msgs))
	}
}

// outcome classifies the error of a write.
type outcome int

const (
	ok            outcome = iota // it happened
	refused                      // it certainly did not happen
	indeterminate                // it may have happened
)

// classify decides what a write's error means. Only an error the contract
// says applies nothing (invalid input, a conflict, the compare-and-set
// mismatch of the workload) is a certain failure; anything else, a network
// error or a timeout in particular, may come after the write reached the
// backend.
func classify(err error) outcome {
	switch {
	case err == nil:
		return ok
	case errors.Is(err, errMismatch), errors.Is(err, foxstore.ErrStorageInvalid):
		return refused
	case errors.Is(err, foxstore.ErrStorageConflict) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled):
		return refused
	}
	return indeterminate
}

// errMismatch is what a workload's transaction returns to roll back when it
// finds something other than what it expected.
var errMismatch = errors.New("torture: value is not the expected one")

// opCtx bounds one operation.
func (o Options) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, o.OpTimeout)
}

// unexpected reports err as a problem when no fault is being injected.
func (o Options) unexpected(p *problems, op string, err error) {
	if err != nil && !o.faulty() {
		p.add("%s: %v (no fault was injected)", op, err)
	}
}

// open calls newStore and checks that it gave a store.
func open(t *testing.T, newStore func(*testing.T) foxstore.StoragePlugin) foxstore.StoragePlugin {
	t.Helper()
	s := newStore(t)
	if s == nil {
		t.Fatal("newStore returned nil")
	}
	return s
}

// prefixed returns a key prefix that no earlier run in the same store used,
// so that a workload can share a store (a server, a table) with others.
func prefixed(workload string, seed uint64) string {
	return fmt.Sprintf("%s:%x:%x:", workload, seed&0xffffff, time.Now().UnixNano()&0xffffff)
}

// quote shortens s for messages.
func quote(s string) string {
	if len(s) > 60 {
		return fmt.Sprintf("%q...(%d bytes)", s[:40], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// roundTime bounds a round of the append and set workloads, whose keys
// grow as they run: fresh keys every round keep each operation cheap in
// long runs.
const roundTime = 10 * time.Second

// inRounds runs round on fresh keys (a new prefix) again and again, each
// for at most roundTime, until opts.Duration is spent, and adds up the
// figures.
func inRounds(r reporter, opts Options, name string, round func(opts Options, prefix string) Stats) Stats {
	r.Helper()
	end := time.Now().Add(opts.Duration)
	var total Stats
	for i := 0; i == 0 || time.Until(end) > 0; i++ {
		if r.Failed() {
			break
		}
		o := opts
		o.Seed = opts.Seed + uint64(i)
		o.Duration = min(roundTime, time.Until(end))
		if i == 0 {
			o.Duration = min(roundTime, opts.Duration)
		}
		s := round(o, fmt.Sprintf("%sr%d:", prefixed(name, opts.Seed), i))
		total.Ops += s.Ops
		total.Indeterminate += s.Indeterminate
		total.Failed += s.Failed
		total.Faults += s.Faults
		total.Rounds++
	}
	r.Logf("%s: %v", name, total)
	return total
}

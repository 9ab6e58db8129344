package torture

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
)

// KillOptions tune Kill.
type KillOptions struct {
	// Kills is how many times the writer is killed (default 3, or
	// -torture.kills with -torture).
	Kills int

	// Writers is the number of goroutines writing in the child (default 4).
	Writers int

	// MayLose is how old an acknowledged write may be and still be lost:
	// the flush interval of a store with async writes. Zero: nothing
	// acknowledged may be lost.
	MayLose time.Duration

	// Seed makes the random choices repeatable; zero means -torture.seed
	// or a fresh seed, which is logged.
	Seed uint64

	// Wait is the longest the child writes before it is killed; the
	// moment is random below it (default 300ms, 1.5s with -torture).
	Wait time.Duration

	// StoreKills is how many kills one store goes through before the next
	// round starts a fresh one (default 10). Stores grow with every round;
	// large ones take long to reopen, and take long to compact, which is
	// where some bugs hide.
	StoreKills int
}

// Environment of the child process.
const (
	envKillTest = "FOXSTORE_TORTURE_KILL_TEST" // the test (t.Name()) whose Kill is the child
	envKillDir  = "FOXSTORE_TORTURE_KILL_DIR"  // the store's directory
	envKillGen  = "FOXSTORE_TORTURE_KILL_GEN"  // the round: keys are fresh in each
	envKillSeed = "FOXSTORE_TORTURE_KILL_SEED"
	envKillWrit = "FOXSTORE_TORTURE_KILL_WRITERS"
)

// Kill proves that acknowledged writes survive a process kill (CONTRACT
// §10). It runs the test binary again as a child process that opens the
// store in a directory of the test's, writes from several goroutines
// (Set, SetBatch, Delete, and transactions that increment a counter and
// create a key named after the new count) and reports each write on a pipe
// as soon as it is acknowledged. The parent kills the child with SIGKILL at
// a random moment, now and then during its start or recovery, then reopens
// the store and checks that:
//
//   - it opens: a crash never leaves a store that cannot be opened;
//   - every acknowledged write is there (or, for a delete, gone), those of
//     earlier rounds included, except those younger than opts.MayLose;
//   - every value is the one written, and transactions are all or nothing:
//     a counter at n has exactly the keys of increments 1..n.
//
// Every other round the parent does not check, so that the next child
// opens a store that has just crashed and recovers it itself.
//
// open must open the store in dir; it is called in the child, to write, and
// in the parent, to check. The store it returns must be closed by Close (as
// io.Closer); the parent closes it before starting the next child.
func Kill(t *testing.T, open func(t *testing.T, dir string) foxstore.StoragePlugin, opts KillOptions) Stats {
	t.Helper()
	return kill(t, t, open, opts)
}

func kill(t *testing.T, r reporter, open func(t *testing.T, dir string) foxstore.StoragePlugin, opts KillOptions) Stats {
	t.Helper()
	if os.Getenv(envKillTest) == t.Name() {
		killChild(t, open)
		return Stats{}
	}
	if runtime.GOOS == "windows" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skipf("Kill needs a child process with an inherited pipe, which %s does not give", runtime.GOOS)
	}
	if opts.Kills <= 0 {
		opts.Kills = 3
		if Long() {
			opts.Kills = *flagKills
		}
	}
	if opts.Writers <= 0 {
		opts.Writers = 4
	}
	if opts.StoreKills <= 0 {
		opts.StoreKills = 10
	}
	if opts.Wait <= 0 {
		opts.Wait = 300 * time.Millisecond
		if Long() {
			opts.Wait = 1500 * time.Millisecond
		}
	}
	if opts.Seed == 0 {
		opts.Seed = *flagSeed
	}
	if opts.Seed == 0 {
		opts.Seed = rand.Uint64()
	}
	t.Logf("seed %d (-torture.seed=%d replays the random choices), %d kills, %d writers", opts.Seed, opts.Seed, opts.Kills, opts.Writers)
	rng := rand.New(rand.NewPCG(opts.Seed, 7))
	dir := t.TempDir()
	m := newKillModel()
	var stats Stats
	for round := 0; round < opts.Kills; round++ {
		if round > 0 && round%opts.StoreKills == 0 {
			// A fresh store now and then keeps reopening quick in long
			// runs. The last round before this one was checked.
			dir, m = t.TempDir(), newKillModel()
		}
		acks, killedAt, err := runKillChild(t, dir, round, rng, opts)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		stats.Faults++
		for _, a := range acks {
			a.maybe = opts.MayLose > 0 && killedAt.Sub(a.at) < opts.MayLose
			a.when = fmt.Sprintf("child %d, %v before it was killed", round, max(killedAt.Sub(a.at), 0).Round(time.Millisecond))
			m.add(a)
			if a.op != "try-del" {
				stats.Ops++
			}
		}
		if round%2 == 1 && round != opts.Kills-1 && round%opts.StoreKills != opts.StoreKills-1 {
			// The next child recovers from this crash.
			continue
		}
		st := open(t, dir)
		if st == nil {
			t.Fatal("open returned nil")
		}
		m.check(t, r, st, round)
		if c, ok := st.(io.Closer); ok {
			if err := c.Close(); err != nil {
				t.Fatalf("round %d: Close after the check: %v", round, err)
			}
		}
		if r.Failed() {
			break
		}
		stats.Rounds++
	}
	r.Logf("kill: %d acknowledged writes checked, %d kills, %d keys expected at the end", stats.Ops, stats.Faults, m.expected())
	return stats
}

// killAck is one acknowledged write, as the child reported it.
type killAck struct {
	op    string   // set, del, tx
	args  []string // set: key value ...; del: key; tx: counter n key
	at    time.Time
	when  string // for messages: which child, how long before the kill
	maybe bool   // young enough to be lost (async writes)
}

// runKillChild runs one child, kills it, and returns what it acknowledged.
func runKillChild(t *testing.T, dir string, round int, rng *rand.Rand, opts KillOptions) ([]killAck, time.Time, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, time.Time{}, err
	}
	defer r.Close()
	var run []string
	for _, part := range strings.Split(t.Name(), "/") {
		run = append(run, "^"+regexp.QuoteMeta(part)+"$")
	}
	args := []string{"-test.run=" + strings.Join(run, "/"), "-test.count=1", "-test.timeout=5m"}
	for _, a := range os.Args[1:] {
		// The torture flags, so that the child takes the same path
		// through the test to Kill.
		if strings.HasPrefix(a, "-torture") || strings.HasPrefix(a, "--torture") {
			args = append(args, a)
		}
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(),
		envKillTest+"="+t.Name(),
		envKillDir+"="+dir,
		envKillGen+"="+strconv.Itoa(round),
		envKillSeed+"="+strconv.FormatUint(rng.Uint64(), 10),
		envKillWrit+"="+strconv.Itoa(opts.Writers),
	)
	cmd.ExtraFiles = []*os.File{w}
	var stderr strings.Builder
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, time.Time{}, err
	}
	w.Close()

	var (
		mu    sync.Mutex
		acks  []killAck
		ready = make(chan struct{})
		eof   = make(chan struct{})
	)
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		readyOnce := sync.OnceFunc(func() { close(ready) })
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 0 {
				continue
			}
			if f[0] == "ready" {
				readyOnce()
				continue
			}
			mu.Lock()
			acks = append(acks, killAck{op: f[0], args: f[1:], at: time.Now()})
			mu.Unlock()
		}
	}()

	// Mostly kill while the writers run; now and then early, during the
	// child's start and the store's recovery.
	if rng.IntN(4) == 0 {
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
	} else {
		select {
		case <-ready:
		case <-eof:
			cmd.Wait()
			return nil, time.Time{}, fmt.Errorf("the child ended before it was ready:\n%s", stderr.String())
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			cmd.Wait()
			return nil, time.Time{}, fmt.Errorf("the child was not ready after 2 minutes:\n%s", stderr.String())
		}
		time.Sleep(10*time.Millisecond + time.Duration(rng.Int64N(int64(opts.Wait))))
	}
	killedAt := time.Now()
	if err := cmd.Process.Kill(); err != nil {
		return nil, time.Time{}, fmt.Errorf("kill: %v", err)
	}
	werr := cmd.Wait()
	<-eof
	var ee *exec.ExitError
	if errors.As(werr, &ee) && ee.Exited() {
		// It ended by itself before the kill: a failure in the child.
		return nil, time.Time{}, fmt.Errorf("the child exited (%v) before it was killed:\n%s", werr, stderr.String())
	}
	return acks, killedAt, nil
}

// killChild is the child: it writes until it is killed.
func killChild(t *testing.T, open func(*testing.T, string) foxstore.StoragePlugin) {
	acks := os.NewFile(3, "acks")
	gen := os.Getenv(envKillGen)
	seed, _ := strconv.ParseUint(os.Getenv(envKillSeed), 10, 64)
	writers, _ := strconv.Atoi(os.Getenv(envKillWrit))
	// Writers run outside the test goroutine, where t.Fatal is not
	// allowed: they say what failed and exit, which the parent reports.
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "kill child: "+format+"\n", args...)
		os.Exit(5)
	}
	// The parent kills the child; if it is gone, do not write forever.
	go func() {
		time.Sleep(3 * time.Minute)
		os.Exit(3)
	}()
	st := open(t, os.Getenv(envKillDir))
	var mu sync.Mutex
	report := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...) + "\n"
		mu.Lock()
		defer mu.Unlock()
		if _, err := io.WriteString(acks, line); err != nil {
			os.Exit(4) // the parent is gone
		}
	}
	report("ready")
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range max(writers, 1) {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			counter := fmt.Sprintf("k%s:w%d:count", gen, w)
			var live []string // keys this writer set and has not deleted
			for n := 0; ; n++ {
				key := func(i int) string { return fmt.Sprintf("k%s:w%d:%d:%d", gen, w, n, i) }
				switch r := rng.IntN(10); {
				case r < 4:
					k := key(0)
					if err := st.Set(ctx, k, "v:"+k, 0); err != nil {
						fail("Set: %v", err)
					}
					report("set %s", k)
					live = append(live, k)
				case r < 6:
					batch := map[string]any{}
					var keys []string
					for i := range 1 + rng.IntN(5) {
						batch[key(i)] = "v:" + key(i)
						keys = append(keys, key(i))
					}
					if err := st.SetBatch(ctx, batch); err != nil {
						fail("SetBatch: %v", err)
					}
					report("set %s", strings.Join(keys, " "))
					live = append(live, keys...)
				case r < 7 && len(live) > 0:
					i := rng.IntN(len(live))
					k := live[i]
					live = append(live[:i], live[i+1:]...)
					// Say so first: a kill between the delete and its
					// acknowledgment leaves the key gone, unacknowledged.
					report("try-del %s", k)
					if err := st.Delete(ctx, k); err != nil {
						fail("Delete: %v", err)
					}
					report("del %s", k)
				default:
					var next int
					err := foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
						v, err := tx.Get(counter)
						switch {
						case errors.Is(err, foxstore.ErrStorageNotFound):
							next = 1
						case err != nil:
							return err
						default:
							c, err := intValue(v)
							if err != nil {
								return err
							}
							next = c + 1
						}
						k := fmt.Sprintf("%s:%d", counter, next)
						if err := tx.Set(k, "v:"+k); err != nil {
							return err
						}
						return tx.Set(counter, next)
					})
					if err != nil {
						fail("Update: %v", err)
					}
					report("tx %s %d", counter, next)
				}
			}
		})
	}
	wg.Wait()
}

// killModel is what the parent knows must be in the store.
type killModel struct {
	ackedAt map[string]string // key → which child acknowledged its last write, how long before its kill
	present map[string]bool   // key → must be there (true) or must not (false)
	maybe   map[string]bool   // keys whose last write may be lost
	counter map[string]int    // counter → lowest value it may hold
}

func newKillModel() *killModel {
	return &killModel{present: map[string]bool{}, maybe: map[string]bool{}, counter: map[string]int{}, ackedAt: map[string]string{}}
}

func (m *killModel) expected() int {
	n := 0
	for _, p := range m.present {
		if p {
			n++
		}
	}
	return n
}

func (m *killModel) add(a killAck) {
	switch a.op {
	case "set":
		for _, k := range a.args {
			m.present[k] = true
			m.ackedAt[k] = a.when
			if a.maybe {
				m.maybe[k] = true
			} else {
				delete(m.maybe, k)
			}
		}
	case "try-del":
		m.maybe[a.args[0]] = true
	case "del":
		k := a.args[0]
		m.present[k] = false
		m.ackedAt[k] = a.when
		if a.maybe {
			m.maybe[k] = true
		} else {
			delete(m.maybe, k)
		}
	case "tx":
		if len(a.args) == 2 && !a.maybe {
			n, _ := strconv.Atoi(a.args[1])
			m.counter[a.args[0]] = max(m.counter[a.args[0]], n)
		}
	}
}

// check compares the store with the model, then makes what it found the
// model (a write that may have been lost and was is gone for good).
func (m *killModel) check(t *testing.T, r reporter, st foxstore.StoragePlugin, round int) {
	r.Helper()
	ctx := t.Context()
	all, err := st.Find(ctx, "k*")
	if err != nil {
		t.Fatalf("round %d: Find after the kill: %v", round, err)
	}
	bad := 0
	report := func(format string, args ...any) {
		if bad++; bad <= 10 {
			r.Errorf("round %d: "+format, append([]any{round}, args...)...)
		}
	}
	counters := map[string]int{}
	for k, v := range all {
		if strings.HasSuffix(k, ":count") {
			n, err := intValue(v)
			if err != nil {
				report("counter %s: %v", k, err)
			}
			counters[k] = n
			continue
		}
		if v != "v:"+k {
			report("key %s holds %v, want %q", k, v, "v:"+k)
		}
	}
	for k, want := range m.present {
		_, got := all[k]
		switch {
		case got == want:
		case m.maybe[k]:
			m.present[k] = got
		case want:
			report("acknowledged write of %s is lost (acknowledged by %s)", k, m.ackedAt[k])
		default:
			report("acknowledged delete of %s is undone (acknowledged by %s)", k, m.ackedAt[k])
		}
		delete(m.maybe, k)
	}
	for k := range all {
		if _, known := m.present[k]; !known && !strings.Contains(k, ":count") {
			// A write whose acknowledgment the kill cut off: keep it.
			m.present[k] = true
		}
	}
	// Transactions: all or nothing, and none acknowledged lost.
	for c, low := range m.counter {
		if counters[c] < low {
			report("counter %s is %d, but the increment to %d was acknowledged", c, counters[c], low)
		}
	}
	for c, n := range counters {
		for i := 1; i <= n+1; i++ {
			k := fmt.Sprintf("%s:%d", c, i)
			_, there := all[k]
			if there != (i <= n) {
				report("counter %s is %d but key %s is there: %v (a transaction was applied in part)", c, n, k, there)
				break
			}
		}
		m.counter[c] = n
	}
	if bad > 10 {
		r.Errorf("round %d: ... %d problems in all", round, bad)
	}
}

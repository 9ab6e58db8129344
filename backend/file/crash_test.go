package file

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foxstore/foxstore/driver"
)

var crashRounds = flag.Int("file.crashrounds", 50, "rounds of the crash test (SIGKILL a writing child, reopen, check)")

const (
	envCrashDir   = "FOXSTORE_FILE_CRASH_DIR"
	envCrashRound = "FOXSTORE_FILE_CRASH_ROUND"
	envCrashAsync = "FOXSTORE_FILE_CRASH_ASYNC"
)

// crashValue is the value a crash test writes under key, so that the
// parent can check any key it finds.
func crashValue(key string) any {
	h := fnv.New32a()
	h.Write([]byte(key))
	n := h.Sum32()
	switch n % 4 {
	case 0:
		return "v-" + key
	case 1:
		return int64(n)
	case 2:
		return []byte(key)
	}
	return map[string]any{"key": key, "n": float64(n % 1000)}
}

// TestCrashChild is the writer that TestCrash kills. It runs only when
// TestCrash starts it.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" {
		t.Skip("helper process of TestCrash")
	}
	round, _ := strconv.Atoi(os.Getenv(envCrashRound))
	async := os.Getenv(envCrashAsync) == "1"
	// Compact and rotate often, so that kills land in every phase.
	compactMinBytes = 16 << 10
	cfg := testConfig(filepath.Join(dir, "storage.json"), nil)
	cfg.BackupCount = 2
	cfg.AsyncWrite = async
	cfg.FlushInterval = 50 * time.Millisecond
	s, err := Open(context.Background(), cfg)
	if err != nil {
		fmt.Printf("OPENFAIL %v\n", err)
		os.Exit(3)
	}
	var (
		outMu sync.Mutex
		acks  int64
		out   = bufio.NewWriter(os.Stdout)
	)
	// report prints a line: "ACK op key" once an operation returned, and
	// "TRY op key" before a deletion, which may land without its ACK.
	report := func(what, op, key string) {
		outMu.Lock()
		acks++
		fmt.Fprintf(out, "%s %s %s\n", what, op, key)
		out.Flush()
		outMu.Unlock()
	}
	ack := func(op, key string) { report("ACK", op, key) }
	fmt.Fprintln(out, "READY")
	out.Flush()
	ctx := context.Background()
	var counter atomic.Int64
	newKey := func() string { return fmt.Sprintf("r%03d-%07d", round, counter.Add(1)) }
	write := func(key string, exp int64) driver.Write {
		v, err := driver.EncodeValue(crashValue(key))
		if err != nil {
			panic(err)
		}
		return driver.Write{Key: key, Entry: driver.Entry{Value: v, Expires: exp}}
	}
	fail := func(op string, err error) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", op, err)
		os.Exit(4)
	}
	if async {
		go func() {
			for {
				time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
				outMu.Lock()
				n := acks
				outMu.Unlock()
				if err := s.Flush(ctx); err != nil {
					fail("flush", err)
				}
				outMu.Lock()
				fmt.Fprintf(out, "FLUSHED %d\n", n)
				out.Flush()
				outMu.Unlock()
			}
		}()
	}
	for g := 0; g < 4; g++ {
		go func() {
			var mine []string
			for {
				if async {
					// Unthrottled, async writers fill the store so fast that
					// checking it would dominate the test.
					time.Sleep(time.Duration(rand.IntN(400)) * time.Microsecond)
				}
				switch op := rand.IntN(10); {
				case op < 5:
					k := newKey()
					if err := s.Apply(ctx, []driver.Write{write(k, 0)}); err != nil {
						fail("set", err)
					}
					mine = append(mine, k)
					ack("set", k)
				case op < 7:
					ws := sorted(write(newKey(), 0), write(newKey(), 0), write(newKey(), 0))
					if err := s.Apply(ctx, ws); err != nil {
						fail("batch", err)
					}
					for _, w := range ws {
						mine = append(mine, w.Key)
						ack("set", w.Key)
					}
				case op < 8 && len(mine) > 0:
					i := rand.IntN(len(mine))
					k := mine[i]
					mine = append(mine[:i], mine[i+1:]...)
					report("TRY", "del", k)
					if err := s.Apply(ctx, []driver.Write{{Key: k, Delete: true}}); err != nil {
						fail("delete", err)
					}
					ack("del", k)
				case op < 9:
					k := newKey()
					tx, err := s.Begin(ctx)
					if err == nil {
						_, _, err = tx.Get(ctx, k)
					}
					if err == nil {
						err = tx.Commit(ctx, []driver.Write{write(k, 0)})
					}
					if err != nil {
						fail("commit", err)
					}
					mine = append(mine, k)
					ack("set", k)
				default:
					k := newKey()
					if err := s.Apply(ctx, []driver.Write{write(k, time.Now().Add(time.Hour).UnixMilli())}); err != nil {
						fail("set ttl", err)
					}
					mine = append(mine, k)
					ack("set", k)
				}
			}
		}()
	}
	select {}
}

// crashOp is an acknowledged operation, as the child reported it.
type crashOp struct {
	del       bool
	key       string
	try       bool // announced, maybe not done
	guarantee bool // acknowledged and durable: sync mode, or covered by a later flush
}

// runChild starts a writer on dir, kills it with SIGKILL after a random
// time, and returns the operations it acknowledged.
func runChild(t *testing.T, dir string, round int, async bool, rnd *rand.Rand) []crashOp {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashRound+"="+strconv.Itoa(round))
	if async {
		cmd.Env = append(cmd.Env, envCrashAsync+"=1")
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	lines := make(chan []string, 1)
	go func() {
		var got []string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if line == "READY" {
				close(ready)
			}
			got = append(got, line)
		}
		lines <- got
	}()
	// Mostly kill while it writes; sometimes while it opens (and recovers).
	if rnd.IntN(5) > 0 {
		select {
		case <-ready:
		case <-time.After(30 * time.Second):
		}
		time.Sleep(time.Duration(rnd.IntN(300)) * time.Millisecond)
	} else {
		time.Sleep(time.Duration(rnd.IntN(60)) * time.Millisecond)
	}
	cmd.Process.Kill()
	got := <-lines
	werr := cmd.Wait()
	ops, err := parseChildOutput(got, async)
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	if strings.TrimSpace(stderr.String()) != "" && !strings.Contains(werr.Error(), "killed") {
		t.Fatalf("round %d: the child failed (%v):\n%s", round, werr, stderr.String())
	}
	return ops
}

// parseChildOutput turns the lines a child printed into operations.
func parseChildOutput(lines []string, async bool) ([]crashOp, error) {
	var ops []crashOp
	flushed := 0
	for _, line := range lines {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && (f[0] == "ACK" || f[0] == "TRY"):
			try := f[0] == "TRY"
			ops = append(ops, crashOp{del: f[1] == "del", key: f[2], try: try, guarantee: !async && !try})
		case len(f) == 2 && f[0] == "FLUSHED":
			n, _ := strconv.Atoi(f[1])
			flushed = max(flushed, n)
		case len(f) > 0 && f[0] == "OPENFAIL":
			return nil, fmt.Errorf("the child could not open the store: %s", line)
		}
	}
	for i := 0; i < flushed && i < len(ops); i++ {
		ops[i].guarantee = !ops[i].try
	}
	return ops, nil
}

func TestCrash(t *testing.T) {
	if testing.Short() && *crashRounds == 50 {
		*crashRounds = 10
	}
	for _, async := range []bool{false, true} {
		name, rounds := "sync", *crashRounds
		if async {
			name, rounds = "async", max(*crashRounds/3, 5)
		}
		t.Run(name, func(t *testing.T) {
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d (kill timing), %d rounds", seed, rounds)
			rnd := rand.New(rand.NewPCG(seed, 0))
			var dir, path string
			baseline := map[string]bool{} // key -> present, as last verified
			var pending []crashOp
			acked := 0
			for round := 0; round < rounds; round++ {
				if round%10 == 0 {
					// A new store now and then keeps the rounds quick.
					dir = t.TempDir()
					path = filepath.Join(dir, "storage.json")
					clear(baseline)
				}
				ops := runChild(t, dir, round, async, rnd)
				acked += len(ops)
				pending = append(pending, ops...)
				// Now and then let the next child recover from this
				// crash itself, so that kills also land in recovery.
				if round%3 == 1 && round%10 != 9 && round != rounds-1 {
					continue
				}
				verifyCrash(t, path, round, baseline, pending)
				pending = nil
			}
			t.Logf("%d acknowledged operations checked, %d keys in the store", acked, len(baseline))
		})
	}
}

// verifyCrash opens the store as a parent would after a crash and checks
// every acknowledged operation, then records what it found as the new
// baseline (a clean close made it durable).
func verifyCrash(t *testing.T, path string, round int, baseline map[string]bool, ops []crashOp) {
	t.Helper()
	var logs logBuffer
	s, err := Open(context.Background(), testConfig(path, &logs))
	if err != nil {
		t.Fatalf("round %d: the store does not open after a crash: %v", round, err)
	}
	defer mustClose(t, s)
	if w := logs.warnings(); len(w) > 0 {
		t.Fatalf("round %d: a crash looked like damage:\n%s", round, strings.Join(w, "\n"))
	}
	if a := asideFiles(t, filepath.Dir(path)); len(a) > 0 {
		t.Fatalf("round %d: files moved aside after a crash: %v", round, a)
	}
	present := map[string]bool{}
	err = s.Scan(context.Background(), "", "", func(k string, e driver.Entry) bool {
		present[k] = true
		if baseline[k] {
			return true // its value was checked before
		}
		want, _ := driver.EncodeValue(crashValue(k))
		if !e.Value.Equal(want) {
			t.Errorf("round %d: key %s holds %s, want %s", round, k, e.Value.JSON(), want.JSON())
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	// Per key: the states its operations allow, from the last guaranteed
	// one on (later, unguaranteed ones may or may not have landed).
	allowed := map[string][]bool{}
	for k, p := range baseline {
		allowed[k] = []bool{p}
	}
	for _, op := range ops {
		if _, seen := allowed[op.key]; !seen {
			allowed[op.key] = []bool{false} // never written before
		}
		if op.guarantee {
			allowed[op.key] = nil
		}
		allowed[op.key] = append(allowed[op.key], !op.del)
	}
	missing := 0
	for k, states := range allowed {
		ok := false
		for _, p := range states {
			ok = ok || p == present[k]
		}
		if !ok {
			missing++
			if missing <= 10 {
				t.Errorf("round %d: key %s present=%v, but its acknowledged operations allow only %v", round, k, present[k], states)
			}
		}
	}
	if missing > 0 {
		for name, data := range files(t, filepath.Dir(path)) {
			t.Logf("%s: %d bytes, %d lines", name, len(data), strings.Count(data, "\n"))
		}
		t.Logf("log:\n%s", logs.String())
		t.Fatalf("round %d: %d keys disagree with acknowledged operations", round, missing)
	}
	clear(baseline)
	for k := range present {
		baseline[k] = true
	}
	for k, states := range allowed {
		if !present[k] && len(states) > 0 {
			baseline[k] = false
		}
	}
}

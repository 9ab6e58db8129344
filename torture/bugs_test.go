package torture_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/backend/memory"
	"github.com/foxstore/foxstore/driver"
	"github.com/foxstore/foxstore/torture"
)

// Tests named TestBug_* reproduce bugs that this package found in other
// packages. Each one fails while the bug is there; those that would break CI
// skip unless -torture.bugs is given, and stop skipping once fixed.
var runBugs = flag.Bool("torture.bugs", false, "run the TestBug_* reproductions of known bugs (they fail until fixed)")

func knownBug(t *testing.T, what string) {
	t.Helper()
	if !*runBugs {
		t.Skipf("known bug: %s (see the torture report; -torture.bugs runs it)", what)
	}
}

// gatedBackend is the memory backend behind a gate: while the gate is
// closed, every Get reads the entry and then waits for the gate to open
// before returning it. The driver is not resident, so the front puts its
// read cache in front of it, as it does for the database and redis
// backends.
type gatedBackend struct {
	driver.Backend
	mu     sync.Mutex
	gate   chan struct{} // nil: open
	inside chan struct{} // receives once per Get that is waiting at the gate
}

func (b *gatedBackend) Get(ctx context.Context, key string) (driver.Entry, bool, error) {
	e, ok, err := b.Backend.Get(ctx, key)
	b.mu.Lock()
	gate := b.gate
	b.mu.Unlock()
	if gate != nil {
		b.inside <- struct{}{}
		<-gate
	}
	return e, ok, err
}

func (b *gatedBackend) close() chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gate = make(chan struct{})
	return b.gate
}

func (b *gatedBackend) open(gate chan struct{}) {
	b.mu.Lock()
	b.gate = nil
	b.mu.Unlock()
	close(gate)
}

var gated atomic.Pointer[gatedBackend]

func init() {
	driver.Register("torture-gated", driver.Driver{
		Open: func(context.Context, driver.Config) (driver.Backend, error) {
			b := &gatedBackend{Backend: memory.New(), inside: make(chan struct{}, 16)}
			gated.Store(b)
			return b, nil
		},
	})
}

// TestBug_CacheSingleflightServesStaleRead: the read cache of the front
// (cache.go) collapses concurrent misses of one key into one backend read
// with singleflight. A Get that starts after a Set returned can join a
// backend read that began before the Set, and return the value the Set
// replaced. CONTRACT §9: "A read never returns a value older than the last
// write made through the same store." It breaks linearizability on the
// database and redis backends whenever the cache is on (the default).
//
// Reproduction: reader A misses and reads the backend (held at the gate with
// the old value); Set(k, "new") returns; reader B then misses too, joins A's
// read, and gets "old".
func TestBug_CacheSingleflightServesStaleRead(t *testing.T) {
	ctx := t.Context()
	s, err := foxstore.Open(ctx, foxstore.Config{Backend: "torture-gated", CacheSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer s.(io.Closer).Close()
	b := gated.Load()
	if err := s.Set(ctx, "k", "old", 0); err != nil {
		t.Fatal(err)
	}

	gate := b.close()
	resA := make(chan any, 1)
	go func() { v, _ := s.Get(ctx, "k"); resA <- v }()
	<-b.inside // A has read "old" from the backend and waits at the gate

	if err := s.Set(ctx, "k", "new", 0); err != nil {
		t.Fatal(err)
	}
	// B starts after Set returned.
	resB := make(chan any, 1)
	go func() { v, _ := s.Get(ctx, "k"); resB <- v }()
	select {
	case <-b.inside:
		// B read the backend itself: it will see "new". Fine.
	case <-time.After(200 * time.Millisecond):
		// B is waiting: on A's backend read, the only thing it can wait on.
	}
	b.open(gate)
	<-resA
	if v := <-resB; v != "new" {
		t.Errorf(`Get("k") that began after Set("k", "new") returned gives %v: a stale read from a shared in-flight cache miss`, v)
	}
}

// TestBug_SQLiteWriterSlotWaitsForPool: on SQLite, a plain write (Apply:
// Set, SetBatch, Delete) takes the process's writer slot and then waits for
// a pooled connection, while a transaction holds its connection from Begin
// and waits for the writer slot at Commit. With the pool full of open
// transactions (database.max_open_conns, default max(4, GOMAXPROCS)) and one
// plain write, they wait on each other until the writer-slot wait times out
// after 5 s (sqliteBusyTimeout), and the transactions fail with
// ErrStorageConflict although they conflict with nothing: the keys are
// disjoint. The Linearizable, Append and Set workloads with 8 clients show
// it as 5-second stalls on SQLite (a few dozen operations in 5 s).
func TestBug_SQLiteWriterSlotWaitsForPool(t *testing.T) {
	ctx := t.Context()
	cfg := sqliteConfig(t.TempDir())
	cfg.Database.MaxOpenConns = 2
	s := openCfg(t, cfg)

	// Two transactions fill the pool of two connections.
	txs := make([]foxstore.Transaction, 2)
	for i := range txs {
		tx, err := s.BeginTransaction(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.Get(string(rune('a' + i))); err != nil && !errorsIsNotFound(err) {
			t.Fatal(err)
		}
		txs[i] = tx
	}
	// A plain write of another key takes the writer slot and waits for a
	// connection.
	setDone := make(chan error, 1)
	go func() { setDone <- s.Set(ctx, "z", 1, 0) }()
	time.Sleep(100 * time.Millisecond)

	for i, tx := range txs {
		if err := tx.Set(string(rune('a'+i)), i); err != nil {
			t.Fatal(err)
		}
		err := tx.Commit()
		// The first commit conflicts with nothing: the Set has not
		// committed. The second may lose to the Set, which by then has
		// committed after its snapshot, and SQLite cannot tell keys apart.
		if err != nil && (i == 0 || !errors.Is(err, foxstore.ErrStorageConflict)) {
			t.Errorf("Commit of transaction %d, which shares no key with any other: %v", i, err)
		}
	}
	if err := <-setDone; err != nil {
		t.Errorf("Set: %v", err)
	}
}

func errorsIsNotFound(err error) bool { return errors.Is(err, foxstore.ErrStorageNotFound) }

// TestBug_RedisRetriesWriteAfterLostReply: the redis backend lets go-redis
// retry a command whose reply was lost (MaxRetries: 2 in newClient). A Set
// whose first attempt was carried out is sent again on a new connection, and
// takes effect a second time, after writes that other clients made, and
// read, in between: an acknowledged write is silently overwritten by an
// older one. TestRedisConnectionCuts/Linearizable finds it as a history that
// is not linearizable (a Set whose call lasted across a cut, read by others,
// overwritten, then back).
//
// Reproduction: Set(k, "first") through a proxy that loses the reply; in
// between, another client reads "first" and writes "second"; once every
// call has returned, k holds "first" again.
func TestBug_RedisRetriesWriteAfterLostReply(t *testing.T) {
	addr := serverEnv(t, envRedis, "a Redis address")
	ctx := t.Context()
	p := torture.NewProxy(t, addr)
	cfg := redisConfig(p.Addr())
	cfg.CacheSize = 0
	s := openCfg(t, cfg)
	direct := cfg
	direct.Redis.Addrs = []string{addr}
	other := openCfg(t, direct)
	t.Cleanup(func() { cleanRedis(t, direct) })

	var seen any
	var otherErr error
	otherDone := make(chan struct{})
	p.LoseNextReply(func() {
		defer close(otherDone)
		// The first attempt of the Set has been carried out.
		seen, otherErr = other.Get(ctx, "k")
		if otherErr == nil {
			otherErr = other.Set(ctx, "k", "second", 0)
		}
	})
	err := s.Set(ctx, "k", "first", 0)
	// Without client retries the Set can return (with the lost reply's
	// error) before the other client is done.
	select {
	case <-otherDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the proxy never lost a reply")
	}
	if otherErr != nil {
		t.Fatalf("the other client: %v", otherErr)
	}
	t.Logf(`Set(k, "first") returned %v; meanwhile another client read %v and then set "second"`, err, seen)
	got, gerr := other.Get(ctx, "k")
	if seen == "first" && got != "second" {
		t.Errorf(`after Set(k, "first") was seen and then overwritten by Set(k, "second"), k holds %v (%v): the first Set took effect twice`, got, gerr)
	}
}

// TestBug_HugeJSONValueEncodedBeforeRefusal: the front encodes a JSON value
// (driver.EncodeValue: any type but the native ones) in full before it
// compares the encoded size with max_value_size, so refusing a value costs
// memory and time in proportion to its encoded form, which JSON escaping
// can make six times the raw size, plus buffer growth. A []string holding
// 16 MiB of NUL bytes (96 MiB encoded) allocates about 870 MiB and takes a
// second and a half before Set refuses it; 64 MiB of them allocate 3.4 GiB
// and take 9 s. CONTRACT §3 and issue 7 §5: oversized values are refused
// cleanly, not by exhausting memory. Encoding into a writer that stops at
// max_value_size would bound the cost.
func TestBug_HugeJSONValueEncodedBeforeRefusal(t *testing.T) {
	s := newMemory(t)
	const size = 16 << 20
	v := []string{string(make([]byte, size))}
	var err error
	n := allocated(func() { err = s.Set(t.Context(), "huge", v, 0) })
	wantInvalid(t, "Set of a 16 MiB []string", err)
	if n > 4*size {
		t.Errorf("refusing a []string of %d MiB allocated %d MiB", size>>20, n>>20)
	}
}

// TestBug_TimeOffsetSecondsLost: a time.Time whose zone offset is not a
// whole number of minutes comes back from a persistent store shifted by the
// offset's seconds: the binary and JSON forms write it in RFC 3339, whose
// offsets have no seconds (driver.Value.AppendBytes, Value.JSON). Such
// offsets are real: every zone's local mean time before standard time, such
// as Europe/Amsterdam until 1937 (+00:19:32). CONTRACT §3: time.Time comes
// back with its instant preserved. The memory backend keeps the value and
// passes; the file backend, after a reopen, does not (nor do SQL and Redis,
// which store the same forms).
func TestBug_TimeOffsetSecondsLost(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	want := time.Date(1900, 1, 1, 12, 0, 0, 0, time.FixedZone("LMT", 19*60+32))
	s := openCfg(t, fileConfig(dir, false))
	if err := s.Set(ctx, "t", want, 0); err != nil {
		t.Fatal(err)
	}
	s.(io.Closer).Close()
	got, err := openCfg(t, fileConfig(dir, false)).Get(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := got.(time.Time); !ok || !g.Equal(want) {
		t.Errorf("stored %v (Unix %d), read back %v after a reopen", want, want.Unix(), got)
	}
}

// TestBug_FileAsyncLosesOldWrites: with async_write, the file backend lost
// writes acknowledged seconds before a SIGKILL, far longer ago than
// flush_interval (20 ms here). In 3 of 6 long kill runs on a shared, loaded
// machine (load 8 on 2 cores, other suites fsyncing), a child that had
// recovered a store of 100,000+ keys left hundreds of writes and deletes
// acknowledged 2.4 s before its kill off the disk (seeds
// 12580436462972298715 and 10214518459199473142, round 6, of
// TestKillFile/async -torture on commit 46cb89f). The async queue was
// bounded by bytes (8 MiB), not by age, and one goroutine wrote and then
// fsynced it in turn: while an fsync was slow, writers kept being
// acknowledged, and their records waited in the process's memory, where a
// kill lost them. CONTRACT §10: "a returned write may be lost only if it is
// younger than flush_interval". Fixed in backend/file: no write is
// acknowledged once the oldest acknowledged write that is not durable has
// waited flush_interval (writers wait for the disk, or fail if it refuses),
// and records reach the OS while an fsync runs.
//
// A slow disk cannot be made on demand, but a full one can, and the queue
// treated both alike: the store runs on a small tmpfs that fills up while a
// writer sets a key every millisecond. The old code went on acknowledging
// writes that could not reach the disk until 8 MiB of them were queued
// (over a minute at this pace); now writes fail once the oldest of them has
// waited flush_interval. A copy of the files when the first write is
// refused (what a SIGKILL at that moment leaves) must hold every write
// acknowledged more than flush_interval before, give or take a second for a
// loaded machine; and once there is room again, Close makes every
// acknowledged write durable.
//
// With -torture, the kills subtest also runs the long reproduction: kills of
// stores that grow through 40 kills, large enough that their recovery and
// compaction make the disk slow.
func TestBug_FileAsyncLosesOldWrites(t *testing.T) {
	t.Run("full_disk", func(t *testing.T) {
		dir := mountTmpfs(t, "2m")
		ctx := t.Context()
		cfg := fileConfig(dir, true)
		s := openCfg(t, cfg)
		const slack = time.Second
		ackedAt := map[string]time.Time{}
		acked := map[string]string{}
		set := func(i int) error {
			k := fmt.Sprintf("k%05d", i)
			v := "v:" + k
			if err := s.Set(ctx, k, v, 0); err != nil {
				return err
			}
			ackedAt[k], acked[k] = time.Now(), v
			return nil
		}
		i := 0
		for ; i < 50; i++ {
			if err := set(i); err != nil {
				t.Fatal(err)
			}
		}
		fill(t, filepath.Join(dir, "ballast"))
		fullAt := time.Now()
		var refused error
		for ; refused == nil; i++ {
			if time.Since(fullAt) > cfg.FlushInterval+slack+time.Second {
				break // the old code: acknowledged for a minute more
			}
			refused = set(i)
			time.Sleep(time.Millisecond)
		}
		crashedAt := time.Now()
		crashed := copyFiles(t, dir)
		if refused != nil {
			t.Logf("%d writes acknowledged after the disk filled up, then: %v", len(acked)-50, refused)
			wantWriteFailed(t, "Set on a full disk", refused)
		} else {
			t.Logf("%d writes acknowledged in the %v after the disk filled up, and still no write refused", len(acked)-50, crashedAt.Sub(fullAt).Round(time.Millisecond))
		}
		c := openCfg(t, fileConfig(crashed, false))
		lost := 0
		for k := range acked {
			if c.Exists(ctx, k) {
				continue
			}
			if age := crashedAt.Sub(ackedAt[k]); age > cfg.FlushInterval+slack {
				if lost++; lost <= 5 {
					t.Errorf("a crash when the disk refused a write would lose %s, acknowledged %v before (flush_interval %v)",
						k, age.Round(time.Millisecond), cfg.FlushInterval)
				}
			}
		}
		if lost > 5 {
			t.Errorf("... %d such writes in all", lost)
		}
		c.(io.Closer).Close()

		if err := os.Remove(filepath.Join(dir, "ballast")); err != nil {
			t.Fatal(err)
		}
		if err := s.(io.Closer).Close(); err != nil {
			t.Fatalf("Close once there is room again: %v", err)
		}
		checkAcked(t, "reopened with room again", openCfg(t, cfg), acked)
	})
	t.Run("kills", func(t *testing.T) {
		if !torture.Long() {
			t.Skip("the long reproduction runs with -torture")
		}
		cfg := func(dir string) foxstore.Config { return fileConfig(dir, true) }
		torture.Kill(t, func(t *testing.T, dir string) foxstore.StoragePlugin {
			return openCfg(t, cfg(dir))
		}, torture.KillOptions{
			MayLose:    cfg("").FlushInterval + 500*time.Millisecond,
			Kills:      40,
			StoreKills: 40,
			Wait:       1500 * time.Millisecond,
		})
	})
}

// copyFiles copies the regular files of dir to a new directory, as a crash
// would leave them at that moment.
func copyFiles(t *testing.T, dir string) string {
	t.Helper()
	to := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || e.Name() == "ballast" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

package database_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/backend/database"
	"github.com/foxstore/foxstore/driver"
)

// noticeWait bounds how long a test waits for a notice to arrive. It is a
// wait for an event, not a timing assertion: notices take milliseconds.
const noticeWait = 10 * time.Second

// eventually polls cond until it holds, and fails the test after noticeWait.
func waitNotice(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(noticeWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", noticeWait, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// uniqueName returns a fresh name with prefix, for tables and
// application names no other test uses.
func watchName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// withAppName returns dsn with application_name set to name, so that a
// test can find its store's connections in pg_stat_activity.
func withAppName(dsn, name string) string {
	if !strings.Contains(dsn, "://") {
		return dsn + " application_name=" + name
	}
	if strings.Contains(dsn, "?") {
		return dsn + "&application_name=" + name
	}
	return dsn + "?application_name=" + name
}

// pgPair is two foxstore stores on one PostgreSQL table, each with a read
// cache that keeps values for an hour: before that, only a notice can show
// one store what the other wrote.
type pgPair struct {
	a, b  foxstore.Store
	appA  string // application_name of a's connections
	table string
	raw   *sql.DB
}

func openPair(t *testing.T) *pgPair {
	t.Helper()
	tg := serverTarget(t, "postgres")
	cfg := tg.config(t)
	cfg.CacheSize, cfg.CacheTTL = 1000, time.Hour
	p := &pgPair{appA: watchName("fxa_"), table: cfg.Database.Table, raw: tg.rawDB(t)}
	cfgA := cfg
	cfgA.Database.DSN = withAppName(tg.dsn, p.appA)
	p.a = openCfg(t, cfgA).(foxstore.Store)
	cfgB := cfg
	cfgB.TTLCleanupInterval = 50 * time.Millisecond // for the expiry test
	p.b = openCfg(t, cfgB).(foxstore.Store)
	return p
}

// get reads key through s: its value and whether it exists.
func readStr(t *testing.T, s foxstore.StoragePlugin, key string) (string, bool) {
	t.Helper()
	v, err := foxstore.GetAs[string](context.Background(), s, key)
	if errors.Is(err, foxstore.ErrStorageNotFound) {
		return "", false
	}
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return v, true
}

func writeStr(t *testing.T, s foxstore.StoragePlugin, key, value string) {
	t.Helper()
	if err := s.Set(context.Background(), key, value, 0); err != nil {
		t.Fatalf("set %q: %v", key, err)
	}
}

// cache writes key=value through s and reads it back, so that s caches it.
func cacheStr(t *testing.T, s foxstore.StoragePlugin, key, value string) {
	t.Helper()
	writeStr(t, s, key, value)
	if got, ok := readStr(t, s, key); !ok || got != value {
		t.Fatalf("%q: got %q (found %v), want %q", key, got, ok, value)
	}
}

// sees waits until s reads want under key ("" and found false: no key).
func seesStr(t *testing.T, s foxstore.StoragePlugin, key, want string, found bool) {
	t.Helper()
	waitNotice(t, fmt.Sprintf("the other store still reads a stale %q", key), func() bool {
		got, ok := readStr(t, s, key)
		return ok == found && got == want
	})
}

// rawSet writes key=value behind every store's back, as another program
// would: no store announces it.
func (p *pgPair) rawSet(t *testing.T, key, value string) {
	t.Helper()
	v, err := driver.EncodeValue(value)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.raw.ExecContext(context.Background(),
		`INSERT INTO "`+p.table+`" (k, v, exp) VALUES ($1, $2, 0) ON CONFLICT (k) DO UPDATE SET v = excluded.v, exp = 0`,
		[]byte(key), v.Bytes())
	if err != nil {
		t.Fatal(err)
	}
}

// barrier writes a fresh key through b and waits until a reads it: the
// notices b sent before have reached a.
func (p *pgPair) barrier(t *testing.T) {
	t.Helper()
	k := watchName("barrier/")
	readStr(t, p.a, k) // a caches its absence
	writeStr(t, p.b, k, "x")
	seesStr(t, p.a, k, "x", true)
}

// TestWatchPostgresSeesOtherStoresWrites: a store reads a value (and
// caches it for an hour); another store on the same table writes it; the
// first one reads the new value at once, for every kind of write.
func TestWatchPostgresSeesOtherStoresWrites(t *testing.T) {
	p := openPair(t)
	ctx := context.Background()

	t.Run("UnannouncedWriteStaysCached", func(t *testing.T) {
		// What the other tests would see without notices: a write the
		// cache hears nothing about stays hidden for cache_ttl.
		cacheStr(t, p.a, "control", "old")
		p.rawSet(t, "control", "new")
		p.barrier(t)
		if got, _ := readStr(t, p.a, "control"); got != "old" {
			t.Fatalf("control = %q: the cache should still serve %q; this test proves nothing", got, "old")
		}
	})
	t.Run("Set", func(t *testing.T) {
		cacheStr(t, p.a, "set", "old")
		writeStr(t, p.b, "set", "new")
		seesStr(t, p.a, "set", "new", true)
	})
	t.Run("Delete", func(t *testing.T) {
		cacheStr(t, p.a, "del", "old")
		if err := p.b.Delete(ctx, "del"); err != nil {
			t.Fatal(err)
		}
		seesStr(t, p.a, "del", "", false)
	})
	t.Run("Absent", func(t *testing.T) {
		readStr(t, p.a, "absent") // a caches that there is none
		writeStr(t, p.b, "absent", "now")
		seesStr(t, p.a, "absent", "now", true)
	})
	t.Run("SetBatch", func(t *testing.T) {
		batch := map[string]any{}
		for i := range 20 {
			k := fmt.Sprintf("batch/%d", i)
			cacheStr(t, p.a, k, "old")
			batch[k] = "new"
		}
		if err := p.b.SetBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		for k := range batch {
			seesStr(t, p.a, k, "new", true)
		}
	})
	t.Run("DeleteBatch", func(t *testing.T) {
		cacheStr(t, p.a, "delbatch/1", "old")
		cacheStr(t, p.a, "delbatch/2", "old")
		if err := p.b.DeleteBatch(ctx, []string{"delbatch/1", "delbatch/2"}); err != nil {
			t.Fatal(err)
		}
		seesStr(t, p.a, "delbatch/1", "", false)
		seesStr(t, p.a, "delbatch/2", "", false)
	})
	t.Run("Transaction", func(t *testing.T) {
		cacheStr(t, p.a, "tx/1", "old")
		cacheStr(t, p.a, "tx/2", "old")
		err := foxstore.Update(ctx, p.b, func(tx foxstore.Transaction) error {
			if err := tx.Set("tx/1", "new"); err != nil {
				return err
			}
			return tx.Delete("tx/2")
		})
		if err != nil {
			t.Fatal(err)
		}
		seesStr(t, p.a, "tx/1", "new", true)
		seesStr(t, p.a, "tx/2", "", false)
	})
	t.Run("Expire", func(t *testing.T) {
		cacheStr(t, p.a, "expire", "v")
		if err := p.b.Expire(ctx, "expire", time.Hour); err != nil {
			t.Fatal(err)
		}
		waitNotice(t, "a does not see the TTL b gave", func() bool {
			d, err := p.a.TTL(ctx, "expire")
			return err == nil && d > 0
		})
	})
	t.Run("ExpiryAndSweep", func(t *testing.T) {
		// Sweeps are not announced, and need not be: a cached copy keeps
		// its deadline, and the front hides it from then on.
		if err := p.b.Set(ctx, "swept", "v", 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if got, ok := readStr(t, p.a, "swept"); !ok || got != "v" {
			t.Fatalf("swept: got %q (found %v)", got, ok)
		}
		seesStr(t, p.a, "swept", "", false)
		waitNotice(t, "b's sweep did not remove the expired row", func() bool {
			var n int
			if err := p.raw.QueryRow(`SELECT count(*) FROM "`+p.table+`" WHERE k = $1`, []byte("swept")).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n == 0
		})
		if _, ok := readStr(t, p.a, "swept"); ok {
			t.Fatal("a reads swept again")
		}
	})
	t.Run("Namespace", func(t *testing.T) {
		// Stored keys of a namespace start with 0xFF and hold a NUL.
		na, nb := foxstore.WithNamespace(p.a, "ns"), foxstore.WithNamespace(p.b, "ns")
		cacheStr(t, na, "k/é", "old")
		writeStr(t, nb, "k/é", "new")
		seesStr(t, na, "k/é", "new", true)
	})
	t.Run("BatchOverSeveralNotifications", func(t *testing.T) {
		// 400 keys of 60 bytes take about 32 KB of payload: several
		// notifications, each naming its keys. An unannounced change of
		// another cached key stays hidden, so nothing purged the cache.
		cacheStr(t, p.a, "several/other", "old")
		p.rawSet(t, "several/other", "new")
		batch := map[string]any{}
		for i := range 400 {
			batch[fmt.Sprintf("several/%056d", i)] = "new"
		}
		for _, i := range []int{0, 199, 399} {
			cacheStr(t, p.a, fmt.Sprintf("several/%056d", i), "old")
		}
		if err := p.b.SetBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{0, 199, 399} {
			seesStr(t, p.a, fmt.Sprintf("several/%056d", i), "new", true)
		}
		p.barrier(t)
		if got, _ := readStr(t, p.a, "several/other"); got != "old" {
			t.Fatalf("several/other = %q: the cache was purged, the keys were not named", got)
		}
	})
	t.Run("BatchTooBigToNamePurges", func(t *testing.T) {
		// 3,000 keys of 60 bytes would take 240 KB of payload, more than
		// foxstore names: the notice says "everything", and a drops its
		// whole cache, unannounced changes included.
		cacheStr(t, p.a, "big/other", "old")
		p.rawSet(t, "big/other", "new")
		batch := map[string]any{}
		for i := range 3000 {
			batch[fmt.Sprintf("big/%056d", i)] = "new"
		}
		cacheStr(t, p.a, fmt.Sprintf("big/%056d", 7), "old")
		if err := p.b.SetBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		seesStr(t, p.a, fmt.Sprintf("big/%056d", 7), "new", true)
		seesStr(t, p.a, "big/other", "new", true)
	})
}

// listenerPID returns the server process of the notification connection
// of the store whose connections are named app, once it listens, other
// than not.
func listenerPID(t *testing.T, raw *sql.DB, app string, not int) int {
	t.Helper()
	var pid int
	waitNotice(t, "no listening notification connection in pg_stat_activity", func() bool {
		err := raw.QueryRow(`SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> $2
			AND (query LIKE 'LISTEN %' OR query LIKE '%pg_notify%')`, app, not).Scan(&pid)
		if errors.Is(err, sql.ErrNoRows) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		return true
	})
	return pid
}

// TestWatchPostgresListenerKilled: when the server ends the notification
// connection, the store connects again, drops its whole cache (notices
// may have been lost meanwhile) and hears the next ones.
func TestWatchPostgresListenerKilled(t *testing.T) {
	p := openPair(t)
	cacheStr(t, p.a, "k", "old")
	p.rawSet(t, "k", "new") // unannounced: only a purge shows it
	pid := listenerPID(t, p.raw, p.appA, 0)
	var ok bool
	if err := p.raw.QueryRow(`SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate %d: %v %v", pid, ok, err)
	}
	seesStr(t, p.a, "k", "new", true)
	listenerPID(t, p.raw, p.appA, pid) // a new one
	cacheStr(t, p.a, "after", "old")
	writeStr(t, p.b, "after", "new")
	seesStr(t, p.a, "after", "new", true)
}

// TestWatchPostgresClose: Close returns promptly while the store listens,
// also when the server stopped answering.
func TestWatchPostgresClose(t *testing.T) {
	tg := serverTarget(t, "postgres")
	dsn, _, px := viaProxy(t, tg)
	cfg := tg.config(t)
	cfg.CacheSize, cfg.CacheTTL = 100, time.Hour
	app := watchName("fxc_")
	raw := tg.rawDB(t)

	for _, stall := range []bool{false, true} {
		cfg.Database.DSN = withAppName(dsn, app)
		s, err := foxstore.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		listenerPID(t, raw, app, 0)
		if stall {
			px.stall()
		}
		start := time.Now()
		if err := s.(io.Closer).Close(); err != nil && !stall {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Close (server stalled: %v) took %v", stall, d)
		}
		px.restore()
	}
}

// notices collects what Watch reports.
type notices struct {
	mu     sync.Mutex
	keys   map[string]int
	purges int
}

func (n *notices) fn(keys []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if keys == nil {
		n.purges++
		return
	}
	if n.keys == nil {
		n.keys = map[string]int{}
	}
	for _, k := range keys {
		n.keys[k]++
	}
}

func (n *notices) has(key string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.keys[key] > 0
}

func (n *notices) purged() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.purges
}

// openWatched opens the database backend itself on the table dc names,
// closed when t ends.
func openWatched(t *testing.T, dc driver.DatabaseConfig, log *slog.Logger) *database.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := database.Open(ctx, driver.Config{Database: dc, MaxValueSize: driver.DefaultMaxValueSize, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func applyKeys(t *testing.T, s *database.Store, keys ...string) {
	t.Helper()
	v, err := driver.EncodeValue("v")
	if err != nil {
		t.Fatal(err)
	}
	ws := make([]driver.Write, len(keys))
	for i, k := range keys {
		ws[i] = driver.Write{Key: k, Entry: driver.Entry{Value: v}}
	}
	slices.SortFunc(ws, func(a, b driver.Write) int { return strings.Compare(a.Key, b.Key) })
	if err := s.Apply(context.Background(), ws); err != nil {
		t.Fatal(err)
	}
}

// TestWatchPostgresBackend checks the notices at the driver level: the
// exact stored keys arrive, whatever their bytes; a store does not hear its
// own writes; too many keys come as nil; Watch stops with its channel.
func TestWatchPostgresBackend(t *testing.T) {
	tg := serverTarget(t, "postgres")
	dc := tg.config(t).Database
	a, b := openWatched(t, dc, nil), openWatched(t, dc, nil)
	var got notices
	stop := make(chan struct{})
	if err := a.Watch(stop, got.fn); err != nil {
		t.Fatal(err)
	}

	odd := []string{"\xff\x00ns\x00key", "\xfe\xfd not utf-8 \xc3", "plain", strings.Repeat("\xff", driver.MaxStoredKeyLen)}
	applyKeys(t, b, odd...)
	applyKeys(t, a, "own")
	applyKeys(t, b, "then")
	waitNotice(t, "a did not hear b's writes", func() bool { return got.has("then") })
	for _, k := range odd {
		if !got.has(k) {
			t.Errorf("a did not hear of key %q", k)
		}
	}
	if got.has("own") {
		t.Error("a heard of its own write")
	}
	if n := got.purged(); n != 0 {
		t.Errorf("%d purges without cause", n)
	}

	many := make([]string, 3000)
	for i := range many {
		many[i] = fmt.Sprintf("many/%056d", i)
	}
	applyKeys(t, b, many...)
	waitNotice(t, "3,000 keys did not purge", func() bool { return got.purged() == 1 })
	if got.has(many[0]) {
		t.Error("keys of an announcement too big to name were named")
	}

	close(stop)
	applyKeys(t, b, "after-stop")
	stop2 := make(chan struct{})
	defer close(stop2)
	var got2 notices
	if err := a.Watch(stop2, got2.fn); err != nil {
		t.Fatal(err)
	}
	applyKeys(t, b, "second")
	waitNotice(t, "a second Watch did not hear b's writes", func() bool { return got2.has("second") })
	if got.has("after-stop") || got.has("second") {
		t.Error("the first watch reported after its stop channel closed")
	}
}

// TestWatchPostgresUnreachable: Watch returns the connection error (without
// the password) when the server cannot be reached, keeps trying, and once
// it listens reports nil (anything may have changed) and then the keys.
func TestWatchPostgresUnreachable(t *testing.T) {
	tg := serverTarget(t, "postgres")
	dsn, secret, px := viaProxy(t, tg)
	dc := tg.config(t).Database
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(syncWriter{&logMu, &logs}, nil))
	direct := openWatched(t, dc, nil)
	dc.DSN = dsn
	a := openWatched(t, dc, log)

	px.cut()
	var got notices
	stop := make(chan struct{})
	defer close(stop)
	err := a.Watch(stop, got.fn)
	if err == nil {
		t.Fatal("Watch succeeded with the server cut off")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("the error shows the password: %v", err)
	}
	px.restore()
	waitNotice(t, "no purge once the server was back", func() bool { return got.purged() > 0 })
	applyKeys(t, direct, "k")
	waitNotice(t, "no notice once the server was back", func() bool { return got.has("k") })

	// A connection lost while listening: the same again.
	purges := got.purged()
	px.cut()
	px.restore()
	waitNotice(t, "no purge after the connection was cut", func() bool { return got.purged() > purges })
	applyKeys(t, direct, "k2")
	waitNotice(t, "no notice after the connection was cut", func() bool { return got.has("k2") })

	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "notification connection") {
		t.Errorf("nothing logged about the lost connection:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the log shows the password:\n%s", logs.String())
	}
}

type syncWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l syncWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestWatchWithoutNotices: SQLite and MySQL/MariaDB have no notices; Watch
// succeeds and does nothing, and cache_ttl bounds staleness there.
func TestWatchWithoutNotices(t *testing.T) {
	for _, drv := range []string{"sqlite", "mysql"} {
		t.Run(drv, func(t *testing.T) {
			tg := target{driver: drv}
			if drv != "sqlite" {
				tg = serverTarget(t, drv)
			}
			s := openWatched(t, tg.config(t).Database, nil)
			stop := make(chan struct{})
			defer close(stop)
			if err := s.Watch(stop, func([]string) { t.Error("a report without notices") }); err != nil {
				t.Fatal(err)
			}
			applyKeys(t, s, "k")
		})
	}
}

// TestWatchAfterClose: a closed store refuses to start watching, with
// ErrStorageClosed's code, instead of opening a listener nobody closes.
func TestWatchAfterClose(t *testing.T) {
	tg := serverTarget(t, "postgres")
	s := openWatched(t, tg.config(t).Database, nil)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	err := s.Watch(stop, func([]string) { t.Error("a report from a closed store") })
	if driver.CodeOf(err) != driver.CodeClosed {
		t.Fatalf("Watch after Close = %v, want code %d", err, driver.CodeClosed)
	}
}

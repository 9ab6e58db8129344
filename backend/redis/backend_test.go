package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foxstore/foxstore"
	"github.com/foxstore/foxstore/driver"
)

// TestScanOddKeys checks the SCAN MATCH escaping and the range filter with
// keys made of glob characters, NUL and 0xFF bytes, across several SCAN
// pages, on the backend itself.
func TestScanOddKeys(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		ctx := t.Context()
		s := openBackend(t, tg.addrs)
		base := "\xff" + randomName("fxraw-") + "\x00"
		t.Cleanup(func() { purge(t, tg.addrs, base) })

		odd := []string{
			"", "*", "**", "?", "[", "]", "[a]", "\\", "\\*", "a", "a*", "a*b", "a?b", "ab", "a[b]", "a\\b",
			"x", "x*", "xa", "x\x00", "x\x00y", "x\xff", "x\xff\xff", "{t}", "{t}a", "^", "-", "\x01", "\xfe",
		}
		var keys []string
		for _, k := range odd {
			keys = append(keys, base+k)
		}
		for i := range 2500 { // more than two SCAN pages
			keys = append(keys, fmt.Sprintf("%sp:%05d", base, i))
		}
		value := mustValue(t, "v")
		for chunk := range slices.Chunk(keys, 200) {
			var ws []driver.Write
			for _, k := range chunk {
				ws = append(ws, driver.Write{Key: k, Entry: driver.Entry{Value: value}})
			}
			if tg.cluster {
				for _, w := range ws {
					if err := s.Apply(ctx, []driver.Write{w}); err != nil {
						t.Fatal(err)
					}
				}
			} else if err := s.Apply(ctx, ws); err != nil {
				t.Fatal(err)
			}
		}
		// A key outside base that an unescaped pattern would catch.
		decoy := base[:len(base)-1] + "*"
		if err := s.Apply(ctx, []driver.Write{{Key: decoy, Entry: driver.Entry{Value: value}}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Apply(context.Background(), []driver.Write{{Key: decoy, Delete: true}}) })

		check := func(start, end string) {
			t.Helper()
			var want []string
			for _, k := range keys {
				if k >= start && (end == "" || k < end) {
					want = append(want, k)
				}
			}
			slices.Sort(want)
			var got []string
			err := s.Scan(ctx, start, end, func(k string, e driver.Entry) bool {
				got = append(got, k)
				return true
			})
			if err != nil {
				t.Fatalf("Scan(%q, %q): %v", start, end, err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("Scan(%q, %q): got %d keys, want %d; first got %q, first want %q",
					start, end, len(got), len(want), got[:min(5, len(got))], want[:min(5, len(want))])
			}
		}
		check(base, prefixEnd(base))
		for _, p := range odd {
			if p != "" {
				check(base+p, prefixEnd(base+p))
			}
		}
		check(base+"a", base+"x\x00") // a range that is no prefix
		check(base+"p:01000", base+"p:01500")

		// fn returning false stops the scan.
		n := 0
		s.Scan(ctx, base, prefixEnd(base), func(string, driver.Entry) bool { n++; return n < 3 })
		if n != 3 {
			t.Errorf("Scan went on after fn returned false: %d calls", n)
		}
	})
}

// TestNativeExpiry checks that the deadline the front computed is both in
// the stored entry and Redis's own expiry of the key.
func TestNativeExpiry(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		ctx := t.Context()
		ns := randomName("fx-")
		st := openStore(t, tg.addrs, ns)
		raw := rawClient(t, tg.addrs)
		key := nsPrefix(ns) + "k"

		if err := st.Set(ctx, "k", "v", time.Hour); err != nil {
			t.Fatal(err)
		}
		b, err := raw.Get(ctx, key).Bytes()
		if err != nil {
			t.Fatalf("raw GET: %v", err)
		}
		e, err := decodeEntry(b)
		if err != nil {
			t.Fatal(err)
		}
		at, err := raw.PExpireTime(ctx, key).Result()
		if err != nil {
			t.Fatalf("PEXPIRETIME: %v", err)
		}
		if at.Milliseconds() != e.Expires {
			t.Errorf("Redis expires the key at %d ms, the entry says %d", at.Milliseconds(), e.Expires)
		}

		if err := st.Expire(ctx, "k", 0); err != nil {
			t.Fatal(err)
		}
		if ttl := raw.PTTL(ctx, key).Val(); ttl != -1 {
			t.Errorf("after Expire(0), PTTL = %v, want -1 (no expiry)", ttl)
		}
		if err := st.Set(ctx, "k", "v", 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if err := st.Set(ctx, "k", "w", 0); err != nil {
			t.Fatal(err)
		}
		if ttl := raw.PTTL(ctx, key).Val(); ttl != -1 {
			t.Errorf("Set without TTL left PTTL = %v, want -1", ttl)
		}

		if err := st.Set(ctx, "short", "v", 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
		if n := raw.Exists(ctx, nsPrefix(ns)+"short").Val(); n != 0 {
			t.Errorf("Redis still holds the expired key")
		}
		if _, err := st.Get(ctx, "short"); !errors.Is(err, foxstore.ErrStorageNotFound) {
			t.Errorf("Get of the expired key = %v, want ErrStorageNotFound", err)
		}
	})
}

// TestForeignData checks what a store makes of keys in its range that
// foxstore did not write.
func TestForeignData(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		ctx := t.Context()
		ns := randomName("fx-")
		st := openStore(t, tg.addrs, ns)
		raw := rawClient(t, tg.addrs)
		raw.Set(ctx, nsPrefix(ns)+"str", "not a foxstore entry", 0)
		raw.LPush(ctx, nsPrefix(ns)+"list", "x")

		for _, k := range []string{"str", "list"} {
			_, err := st.Get(ctx, k)
			if !errors.Is(err, foxstore.ErrStorageCorrupted) {
				t.Errorf("Get(%q) = %v, want ErrStorageCorrupted", k, err)
			}
		}
		if _, err := st.Keys(ctx, "s*"); !errors.Is(err, foxstore.ErrStorageCorrupted) {
			t.Errorf("Keys over a foreign string = %v, want ErrStorageCorrupted", err)
		}
		// Other Redis types are skipped by scans: MGET reads them as missing.
		if keys, err := st.Keys(ctx, "l*"); err != nil || len(keys) != 0 {
			t.Errorf("Keys over a foreign list = %q, %v; want none", keys, err)
		}
	})
}

// TestTxConflict checks the WATCH path: a key read by a transaction and
// changed before its commit makes the commit fail with ErrStorageConflict
// and apply nothing, read-only transactions included.
func TestTxConflict(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		ctx := t.Context()
		st := openStore(t, tg.addrs, randomName("fx-"))
		// Hash-tagged keys, so the cluster runs the same test.
		a, b := "{acct}:a", "{acct}:b"
		if err := st.Set(ctx, a, 1, 0); err != nil {
			t.Fatal(err)
		}

		tx, _ := st.BeginTransaction(ctx)
		if _, err := tx.Get(a); err != nil {
			t.Fatal(err)
		}
		tx.Set(b, "from tx")
		if err := st.Set(ctx, a, 2, 0); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); !errors.Is(err, foxstore.ErrStorageConflict) {
			t.Errorf("Commit after a read key changed = %v, want ErrStorageConflict", err)
		}
		if _, err := st.Get(ctx, b); !errors.Is(err, foxstore.ErrStorageNotFound) {
			t.Errorf("the conflicting transaction wrote %s: Get = %v", b, err)
		}

		// A read of a missing key is watched too.
		tx, _ = st.BeginTransaction(ctx)
		if _, err := tx.Get(b); !errors.Is(err, foxstore.ErrStorageNotFound) {
			t.Fatal(err)
		}
		tx.Set(a, 3)
		st.Set(ctx, b, "created", 0)
		if err := tx.Commit(); !errors.Is(err, foxstore.ErrStorageConflict) {
			t.Errorf("Commit after a missing key read was created = %v, want ErrStorageConflict", err)
		}

		// Read-only: the two reads must have been one snapshot.
		tx, _ = st.BeginTransaction(ctx)
		tx.Get(a)
		st.Set(ctx, a, 4, 0)
		tx.Get(b)
		if err := tx.Commit(); !errors.Is(err, foxstore.ErrStorageConflict) {
			t.Errorf("read-only Commit after a read key changed = %v, want ErrStorageConflict", err)
		}

		// Without interference, it commits.
		tx, _ = st.BeginTransaction(ctx)
		tx.Get(a)
		tx.Set(b, "ok")
		if err := tx.Commit(); err != nil {
			t.Errorf("Commit: %v", err)
		}
		if v, err := st.Get(ctx, b); err != nil || v != "ok" {
			t.Errorf("Get(%s) = %v, %v", b, v, err)
		}
	})
}

// TestTxReleasesConnections checks that ended transactions, however they
// end, leave no WATCH behind on the pooled connections and give them back.
func TestTxReleasesConnections(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		ctx := t.Context()
		s := openBackend(t, tg.addrs)
		base := "\xff" + randomName("{fxraw-") + "}\x00"
		t.Cleanup(func() { purge(t, tg.addrs, base) })
		k, other := base+"k", base+"other"
		set := func(key string, x any) driver.Write {
			return driver.Write{Key: key, Entry: driver.Entry{Value: mustValue(t, x)}}
		}
		for i := range 30 {
			txCtx, cancel := context.WithCancel(ctx)
			tx, err := s.Begin(txCtx)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := tx.Get(txCtx, k); err != nil {
				t.Fatal(err)
			}
			switch i % 3 {
			case 0:
				tx.Rollback()
			case 1:
				if err := tx.Commit(txCtx, []driver.Write{set(k, i)}); err != nil {
					t.Fatal(err)
				}
			case 2: // abandoned: only its ctx ends
			}
			cancel()
			// A WATCH left on a pooled connection would fail the next
			// transaction that gets it, though that one never read k.
			if err := s.Apply(ctx, []driver.Write{set(k, -i)}); err != nil {
				t.Fatal(err)
			}
			tx, _ = s.Begin(ctx)
			tx.Get(ctx, other)
			if err := tx.Commit(ctx, []driver.Write{set(other, i)}); err != nil {
				t.Fatalf("round %d: a transaction that only touched %q: %v", i, other, err)
			}
		}
		// Every connection goes back to the pool, the abandoned ones once
		// the release their ctx triggered has run.
		deadline := time.Now().Add(10 * time.Second)
		for {
			ps := s.txClient.PoolStats()
			if ps.IdleConns == ps.TotalConns {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("transaction pool: %d connections, only %d idle", ps.TotalConns, ps.IdleConns)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestOpenTxNeverStarvesReads holds more open transactions than the pool
// has connections, each with a connection of its own, and checks that plain
// reads still get through.
func TestOpenTxNeverStarvesReads(t *testing.T) {
	ctx := t.Context()
	s := openBackend(t, singleAddrs(t))
	n := s.single.Options().PoolSize
	for i := range n {
		tx, err := s.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, _, err := tx.Get(ctx, fmt.Sprint("\xfffx-starve\x00", i)); err != nil {
			t.Fatal(err)
		}
	}
	readCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, _, err := s.Get(readCtx, "\xfffx-starve\x00k"); err != nil {
		t.Errorf("Get with %d transactions open: %v", n, err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := foxstore.Open(ctx, foxstore.Config{Backend: "redis",
		Redis: foxstore.RedisConfig{Addrs: []string{"127.0.0.1:7001", "127.0.0.1:7002"}, DB: 3}})
	if !errors.Is(err, foxstore.ErrStorageInvalid) || !strings.Contains(err.Error(), "redis.db") {
		t.Errorf("Open of a cluster with db 3 = %v, want ErrStorageInvalid naming redis.db", err)
	}
	// A port nobody listens on: port 1 of loopback.
	_, err = foxstore.Open(ctx, foxstore.Config{Backend: "redis", Redis: foxstore.RedisConfig{Addrs: []string{"127.0.0.1:1"}}})
	if err == nil || foxstore.CodeOf(err) != foxstore.CodeReadFailed {
		t.Errorf("Open of a closed port = %v, want ErrStorageReadFailed", err)
	}
}

func TestHealth(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		st := openStore(t, tg.addrs, randomName("fx-"))
		st.Set(t.Context(), "k", 1, 0)
		h := st.HealthCheck()
		if !h.Healthy {
			t.Fatalf("HealthCheck: %s", h.Message)
		}
		want := map[bool]string{false: "single", true: "cluster"}[tg.cluster]
		if h.Details["redis_mode"] != want {
			t.Errorf("redis_mode = %v, want %s", h.Details["redis_mode"], want)
		}
		for _, k := range []string{"redis_pool_total_conns", "redis_pool_idle_conns", "redis_tx_pool_total_conns", "redis_ping"} {
			if _, ok := h.Details[k]; !ok {
				t.Errorf("HealthCheck details lack %s: %v", k, h.Details)
			}
		}
		if n, _ := h.Details["redis_pool_total_conns"].(uint32); n == 0 {
			t.Errorf("redis_pool_total_conns = %v after a write", h.Details["redis_pool_total_conns"])
		}
	})
}

package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/foxstore/foxstore"
)

// wantCrossSlot reports an error unless err is the documented refusal.
func wantCrossSlot(t *testing.T, err error, op string) {
	t.Helper()
	if !errors.Is(err, foxstore.ErrStorageInvalid) || !strings.Contains(err.Error(), "hash tag") {
		t.Errorf("%s = %v, want ErrStorageInvalid explaining hash tags", op, err)
	}
}

// TestClusterCrossSlotRefused checks the cluster rule: what cannot be atomic
// is refused with ErrStorageInvalid, and nothing of it is written.
func TestClusterCrossSlotRefused(t *testing.T) {
	addrs := clusterAddrs(t)
	ctx := t.Context()
	st := openStore(t, addrs, randomName("fx-"))
	// Under a namespace without hash tag, "a" and "b" hash to different
	// slots but for a 1 in 16384 chance.
	a, b := "a", "b"
	ns := nsPrefix(st.HealthCheck().Details["namespace"].(string))
	if slotOf(ns+a) == slotOf(ns+b) {
		t.Skip("the random namespace put a and b in one slot; rerun")
	}

	wantCrossSlot(t, st.SetBatch(ctx, map[string]any{a: 1, b: 2}), "SetBatch across slots")
	for _, k := range []string{a, b} {
		if st.Exists(ctx, k) {
			t.Errorf("the refused SetBatch wrote %q", k)
		}
	}

	st.Set(ctx, a, 1, 0)
	st.Set(ctx, b, 2, 0)
	wantCrossSlot(t, st.DeleteBatch(ctx, []string{a, b}), "DeleteBatch across slots")
	if !st.Exists(ctx, a) || !st.Exists(ctx, b) {
		t.Error("the refused DeleteBatch deleted a key")
	}

	// Reads across slots.
	tx, _ := st.BeginTransaction(ctx)
	if _, err := tx.Get(a); err != nil {
		t.Fatal(err)
	}
	_, err := tx.Get(b)
	wantCrossSlot(t, err, "tx.Get of a second slot")
	tx.Rollback()

	// Writes across slots.
	tx, _ = st.BeginTransaction(ctx)
	tx.Set(a, 10)
	tx.Set(b, 20)
	wantCrossSlot(t, tx.Commit(), "Commit of writes across slots")

	// A read in one slot, a write in another.
	tx, _ = st.BeginTransaction(ctx)
	tx.Get(a)
	tx.Set(b, 30)
	wantCrossSlot(t, tx.Commit(), "Commit of a write outside the slot read")

	for k, want := range map[string]int{a: 1, b: 2} {
		if v, err := st.Get(ctx, k); err != nil || v != want {
			t.Errorf("Get(%q) = %v, %v after refused transactions; want %d", k, v, err, want)
		}
	}

	// Update reports the refusal, without retrying it forever.
	err = foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
		tx.Set(a, 1)
		return tx.Set(b, 1)
	})
	wantCrossSlot(t, err, "Update across slots")
}

// TestClusterHashTags checks that keys sharing a hash tag get the full
// contract on a cluster: atomic batches and transactions.
func TestClusterHashTags(t *testing.T) {
	addrs := clusterAddrs(t)
	ctx := t.Context()
	st := openStore(t, addrs, randomName("fx-"))
	batch := map[string]any{}
	for i := range 100 {
		batch[fmt.Sprintf("{user:7}:%d", i)] = i
	}
	if err := st.SetBatch(ctx, batch); err != nil {
		t.Fatalf("SetBatch of one hash tag: %v", err)
	}
	got, err := st.GetBatch(ctx, slices.Collect(func(yield func(string) bool) {
		for k := range batch {
			if !yield(k) {
				return
			}
		}
	}))
	if err != nil || len(got) != len(batch) {
		t.Fatalf("GetBatch: %d values, %v", len(got), err)
	}

	// Lost-update check on one counter, through Update.
	st.Set(ctx, "{user:7}:n", 0, 0)
	var wg sync.WaitGroup
	const workers, rounds = 4, 25
	for range workers {
		wg.Go(func() {
			for range rounds {
				err := foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
					v, err := tx.Get("{user:7}:n")
					if err != nil {
						return err
					}
					return tx.Set("{user:7}:n", v.(int)+1)
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if v, err := st.Get(ctx, "{user:7}:n"); err != nil || v != workers*rounds {
		t.Errorf("counter = %v, %v; want %d", v, err, workers*rounds)
	}
	if err := st.DeleteBatch(ctx, slices.Collect(func(yield func(string) bool) {
		for k := range batch {
			yield(k)
		}
	})); err != nil {
		t.Errorf("DeleteBatch of one hash tag: %v", err)
	}
}

// TestClusterSpread checks the reads that work across slots: keys on every
// master are found, sorted and fetched.
func TestClusterSpread(t *testing.T) {
	addrs := clusterAddrs(t)
	ctx := t.Context()
	ns := randomName("fx-")
	st := openStore(t, addrs, ns)
	raw := rawClient(t, addrs).(*goredis.ClusterClient)

	var keys []string
	for i := range 600 {
		k := fmt.Sprintf("song:%04d", i)
		keys = append(keys, k)
		if err := st.Set(ctx, k, i, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Every master holds some of them.
	var mu sync.Mutex
	perMaster := map[string]int{}
	err := raw.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
		n := 0
		iter := c.Scan(ctx, 0, escapeGlob(nsPrefix(ns))+"*", 1000).Iterator()
		for iter.Next(ctx) {
			n++
		}
		mu.Lock()
		perMaster[c.Options().Addr] = n
		mu.Unlock()
		return iter.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	for addr, n := range perMaster {
		if n == 0 {
			t.Errorf("master %s holds none of the keys: the test proves little", addr)
		}
	}

	got, err := st.Keys(ctx, "song:*")
	if err != nil || !slices.Equal(got, keys) {
		t.Errorf("Keys(song:*) = %d keys (sorted: %v), %v; want %d", len(got), slices.IsSorted(got), err, len(keys))
	}
	if n, err := st.Count(ctx, "song:01[0-4]?"); err != nil || n != 50 {
		t.Errorf("Count(song:01[0-4]?) = %d, %v; want 50", n, err)
	}
	m, err := st.GetBatch(ctx, append(keys, "missing", keys[0]))
	if err != nil || len(m) != len(keys) || m["song:0599"] != 599 {
		t.Errorf("GetBatch across slots: %d values, %v", len(m), err)
	}
	f, err := st.Find(ctx, "song:01*")
	if err != nil || len(f) != 100 || f["song:0123"] != 123 {
		t.Errorf("Find(song:01*) = %d values, %v", len(f), err)
	}
}

// TestClusterSlotsAgree compares slotOf with the server's CLUSTER KEYSLOT on
// binary keys, namespaced and hash-tagged ones included.
func TestClusterSlotsAgree(t *testing.T) {
	raw := rawClient(t, clusterAddrs(t))
	ctx := t.Context()
	r := rand.New(rand.NewPCG(1, 2))
	keys := []string{"", "{", "}", "{}", "{}{a}", "a{b}c", "\xff{ns}\x00k", "\xffns\x00{k}", "{\x00}"}
	for range 300 {
		b := make([]byte, r.IntN(20))
		for i := range b {
			const alphabet = "{}ab\x00\xff:x"
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		keys = append(keys, string(b))
	}
	for _, k := range keys {
		want, err := raw.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := slotOf(k); int64(got) != want {
			t.Errorf("slotOf(%q) = %d, CLUSTER KEYSLOT says %d", k, got, want)
		}
	}
}

// moveSlot migrates a hash slot, keys included, to the master dst, the way
// redis-cli --cluster reshard does, and returns the master it came from.
func moveSlot(t *testing.T, raw *goredis.ClusterClient, slot int, dst *goredis.Client) *goredis.Client {
	t.Helper()
	ctx := context.Background() // it also runs from t.Cleanup, after t.Context ends
	var (
		mu      sync.Mutex
		masters []*goredis.Client
	)
	err := raw.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
		mu.Lock()
		masters = append(masters, c)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var src *goredis.Client
	for _, m := range masters {
		if owner(t, m, slot) == m.Options().Addr {
			src = m
		}
	}
	if src == nil {
		t.Fatalf("no master owns slot %d", slot)
	}
	if src.Options().Addr == dst.Options().Addr {
		return src
	}
	id := func(c *goredis.Client) string { return c.Do(ctx, "cluster", "myid").Val().(string) }
	srcID, dstID := id(src), id(dst)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("moving slot %d: %v", slot, err)
		}
	}
	must(dst.Do(ctx, "cluster", "setslot", slot, "importing", srcID).Err())
	must(src.Do(ctx, "cluster", "setslot", slot, "migrating", dstID).Err())
	host, port, _ := strings.Cut(dst.Options().Addr, ":")
	for {
		keys, err := src.ClusterGetKeysInSlot(ctx, slot, 100).Result()
		must(err)
		if len(keys) == 0 {
			break
		}
		args := []any{"migrate", host, port, "", 0, 5000, "keys"}
		for _, k := range keys {
			args = append(args, k)
		}
		must(src.Do(ctx, args...).Err())
	}
	// The destination first (it bumps its config epoch, so its claim wins
	// over gossip), then the source, then the others.
	must(dst.Do(ctx, "cluster", "setslot", slot, "node", dstID).Err())
	must(src.Do(ctx, "cluster", "setslot", slot, "node", dstID).Err())
	for _, m := range masters {
		if m != src && m.Options().Addr != dst.Options().Addr {
			must(m.Do(ctx, "cluster", "setslot", slot, "node", dstID).Err())
		}
	}
	// Wait until every master names dst as the owner.
	deadline := time.Now().Add(20 * time.Second)
	for _, m := range masters {
		for owner(t, m, slot) != dst.Options().Addr {
			if time.Now().After(deadline) {
				t.Fatalf("%s does not agree that slot %d moved to %s", m.Options().Addr, slot, dst.Options().Addr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return src
}

// owner returns the address of the master that c thinks owns slot.
func owner(t *testing.T, c *goredis.Client, slot int) string {
	t.Helper()
	ranges, err := c.ClusterSlots(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ranges {
		if int(r.Start) <= slot && slot <= int(r.End) {
			return r.Nodes[0].Addr
		}
	}
	return ""
}

// TestClusterSlotMoves moves the slot of a transaction's keys to another
// master between its read and its commit: the commit fails with
// ErrStorageConflict and applies nothing, Update gets through on the new
// master, and plain operations follow the slot.
func TestClusterSlotMoves(t *testing.T) {
	addrs := clusterAddrs(t)
	ctx := t.Context()
	ns := "{" + randomName("fx-") + "}"
	st := openStore(t, addrs, ns)
	raw := rawClient(t, addrs).(*goredis.ClusterClient)
	slot := slotOf(nsPrefix(ns))

	home, err := raw.MasterForKey(ctx, nsPrefix(ns))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		away *goredis.Client
	)
	raw.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		if c.Options().Addr != home.Options().Addr {
			away = c
		}
		return nil
	})
	if away == nil {
		t.Skip("the cluster has one master")
	}
	t.Cleanup(func() { moveSlot(t, raw, slot, home) })

	if err := st.Set(ctx, "n", 0, 0); err != nil {
		t.Fatal(err)
	}
	tx, _ := st.BeginTransaction(ctx)
	if _, err := tx.Get("n"); err != nil {
		t.Fatal(err)
	}
	moveSlot(t, raw, slot, away)
	tx.Set("n", 100)
	if err := tx.Commit(); !errors.Is(err, foxstore.ErrStorageConflict) {
		t.Errorf("Commit after the slot moved = %v, want ErrStorageConflict", err)
	}

	for range 3 {
		err := foxstore.Update(ctx, st, func(tx foxstore.Transaction) error {
			v, err := tx.Get("n")
			if err != nil {
				return err
			}
			return tx.Set("n", v.(int)+1)
		})
		if err != nil {
			t.Fatalf("Update after the slot moved: %v", err)
		}
	}
	if v, err := st.Get(ctx, "n"); err != nil || v != 3 {
		t.Errorf("Get(n) = %v, %v; want 3", v, err)
	}
	if err := st.SetBatch(ctx, map[string]any{"a": 1, "b": 2}); err != nil {
		t.Errorf("SetBatch after the slot moved: %v", err)
	}
	if keys, err := st.Keys(ctx, "*"); err != nil || !slices.Equal(keys, []string{"a", "b", "n"}) {
		t.Errorf("Keys after the slot moved = %q, %v", keys, err)
	}
}

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
